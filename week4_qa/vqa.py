"""Visual question answering: an image and a question in, one word out.

    tar xf easy_vqa.tar -C /tmp         # easy-VQA (pip install easy-vqa ships the same files)
    python -m week4_qa.vqa train --data_dir /tmp/easy_vqa --arch attention --out_dir runs/vqa_att
    python -m week4_qa.vqa train --data_dir /tmp/easy_vqa --arch blind --out_dir runs/vqa_blind
    python -m week4_qa.vqa evaluate --run_dir runs/vqa_att
    python -m week4_qa.vqa predict --run_dir runs/vqa_att /tmp/easy_vqa/test/images/0.png \\
        "what color is the shape?" --out attention.png
    python -m week4_qa.vqa export --run_dir runs/vqa_att --export_dir exports/vqa_att
    python -m week4_qa.vqa train --data_dir VQA_v1 --encoder mobilenet_v2 --weights imagenet \\
        --image_size 96 --top_answers 1000 --out_dir runs/vqa_v1     # needs internet once

`train` reads easy-VQA's folder (answers.txt, {train,test}/questions.json,
{train,test}/images/N.png) or VQA v1's (the questions and annotations JSON of
train2014 and val2014 beside the COCO image folders; vqa_data), and holds out
--val_fraction of the training images, each with all its questions, by a
hash of the image id. The architectures (--arch, vqa_model):

    blind      the question alone (an LSTM over its words): the baseline every VQA paper
               reports, and what a data set's language priors give
    vis_lstm   the course's: the image's CNN feature vector, projected to the word
               embedding size, is the LSTM's first step, before the question's words
    attention  the question attends over the CNN's grid of cells (stacked attention, one
               layer), and the attended cell multiplies the question vector

The image encoder (--encoder) is small_cnn trained from scratch (batch norm
in each block), or a frozen Keras application (--weights imagenet, the real
path; none offline) whose grids are computed once per run. Images (and grids)
are held in memory, checked against what the machine has before decoding:
VQA v1's 82,783 training images at 96 px with MobileNetV2 grids take ~6 GiB.

--strategy mirrored (every local GPU, or the CPU) or multi_worker (a
TF_CONFIG cluster) splits each batch across the replicas. small_cnn's batch
norm normalises each replica's part, so several replicas train a little
differently from one device; a frozen encoder's grids are computed once per
worker, alike on every one, before the model is built in the strategy.

`evaluate` re-reads the test part from the folder the run's config.json
names (refused if it changed since training; --data_dir reads another) and
writes results.json: accuracy overall and per question type (easy-VQA: by
the answer's class, yes/no, shape, colour; VQA v1: its answer_type).
`predict` takes IMAGE QUESTION pairs and prints each answer with its
probability; for attention runs --out draws the attention over each image.
`export` writes a SavedModel: images (n, H, W, 3) uint8 and questions (n,)
string -> {"answer" (n,) string, "probability" (n,), "attention" (n, h, w)}.

Expected results (benchmarks/vqa_easy.py; real easy-VQA: 34,852 training and
3,723 validation questions from train, scored on the 9,673 test questions;
--preset easy_vqa, 8 epochs, seed 0; 2 CPU cores shared with other jobs, load 3-5;
minutes of training from history.csv):

    arch        accuracy  yes/no   shape  colour  minutes
    blind         0.6684  0.8254  0.3309  0.1242      0.8
    vis_lstm      0.9746  0.9662  0.9960  1.0000      8.0
    attention     0.9999  0.9999  1.0000  1.0000     11.0

The blind model answers from the question alone: yes/no from the phrasing,
a shape or colour by its prior (a third, an eighth). Where the image enters
is what a late fusion prototype got wrong (67%, no better than blind): here
the encoder has batch norm in every block, and the image either opens the
LSTM's sequence (vis_lstm) or is read through the question's attention and
multiplied into it (attention), which learns fastest (95% validation
accuracy after 4 epochs, vis_lstm after 8).
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week4_qa.vqa_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
