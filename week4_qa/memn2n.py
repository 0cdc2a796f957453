"""End-To-End Memory Networks (Sukhbaatar et al. 2015) on bAbI question answering.

    python -m week4_qa.memn2n train --task 1 --out_dir runs/memn2n_t1      # generated, 1k
    python -m week4_qa.memn2n train --task 2 --stories 10000 --out_dir runs/memn2n_t2
    python -m week4_qa.memn2n train --task 3 --data_dir tasks_1-20_v1-2/en-10k \\
        --tries 10 --out_dir runs/memn2n_real_t3
    python -m week4_qa.memn2n evaluate --run_dir runs/memn2n_t1
    printf '1 Mary moved to the bathroom.\\n2 John went to the hallway.\\n' > story.txt
    python -m week4_qa.memn2n predict --run_dir runs/memn2n_t1 --story story.txt "Where is Mary?"
    python -m week4_qa.memn2n export --run_dir runs/memn2n_t1 --export_dir exports/memn2n_t1

`train` reads a task of the bAbI release (--data_dir: the qa{N}_*_{train,test}.txt
files of tasks_1-20_v1-2/en or en-10k) or, without --data_dir, stories the
built-in generator writes in the release's text format for tasks 1 (single
supporting fact), 2 (two supporting facts) and 6 (yes/no questions);
--stories counts training questions as the release does (1000 or 10000).
10% of the training stories are held out for validation, as in the paper.

The model is the paper's (memn2n_model): --hops memory hops over the
story's --memory_size most recent sentences, each a bag of words weighted by
position encoding (PE) plus a temporal encoding (TE) of its age, with
adjacent weight tying; linear start (LS) trains each try without the hops'
softmax until the validation loss stops falling; random noise (RN) jitters
the memories' ages in training. SGD at 0.01 halved every 25 epochs, 100
epochs, gradients clipped to norm 40, batches of 32. --tries N trains N
times from new initial weights inside the one run (memn2n_training) and
keeps the best epoch by validation loss, as the paper kept the best of 10.
--strategy mirrored (every local GPU, or the CPU) or multi_worker (a
TF_CONFIG cluster) splits each batch across the replicas; the clipping
still measures the whole batch's gradient, tries and linear start happen on
every replica alike, so the run trains as it does on one device.

`predict` prints, per question, the answer and for each hop the story
sentence with the highest attention (its weight, its line number).
`evaluate` writes results.json: accuracy, and how often the last hop attends
most to one of the supporting facts bAbI lists. `export` writes a SavedModel:
story (n,) string and question () string -> {"answer", "probability",
"attention" (hops, n)}.

Expected results (benchmarks/memn2n_babi.py; 2 CPU cores shared with other jobs,
load 5-11; test accuracy on the task's 1,000 test questions, how often the last
hop attends most to a supporting fact, minutes of training; --preset paper):

    data                        hops  tries  accuracy  support  minutes
    generated task 1, 1k          3      1     0.972    0.976     0.8
    generated task 1, 1k          3      3     0.978    0.977     1.6
    generated task 1, 1k          1      1     0.996    0.995     0.6
    generated task 1, 10k         3      1     1.000    0.998     2.9
    generated task 2, 10k         3      1     0.971    0.958     5.9
    generated task 2, 10k         1      1     0.392    0.257     3.7
    generated task 6, 10k         3      1     0.945    0.634     4.9
    generated task 6, 10k         3      3     0.972    0.508     8.1
    bAbI en-10k, 20 tasks: the paper's mean error is 7.2% (PE + LS); not measurable here

On task 2 the second hop is the point: one hop finds the object but not where
its carrier went. At 1k, the 3-hop model fits its training questions (100%)
and errs on people who moved three or more times (temporal recency learned
from few examples); one hop generalises. Task 6 asks whether two places are
equal, which the hops' sums express only through the attention's softmax.
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week4_qa.memn2n_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
