"""airbench94's recipe in plain PyTorch on this CPU: the control for `--preset airbench94`.

    pip install -r benchmarks/requirements.txt   # the peer (PyTorch)
    python -m benchmarks.cifar_airbench_pytorch --data_dir ../cifar10_jpg --seed 0

airbench94 is PyTorch code for a GPU (half precision, CUDA timers). This is its
recipe written out again for a CPU in float32, on the very images this project's
`week2_cnn.cifar10 train --preset airbench94` reads (week2_cnn.cifar_data's loader,
so the same JPEG decoding): the same network, whitening, identity init, parameter
groups, triangle schedule, Lookahead (from epoch 3, over the whole state including
batch norm's statistics, as airbench does), alternating flip, translation and
6-view TTA. Its test accuracy says what the recipe gives on this data, which tells
a shortfall of the Keras port apart from one of the data; its seconds per epoch are
the PyTorch side of the speed comparison. Prints one JSON line.
"""

import argparse
import json
import math
import time

import numpy as np

MEAN = np.array((125.3, 123.0, 113.9), np.float32)
STD = np.array((63.0, 62.1, 66.7), np.float32)
LR, MOMENTUM, DECAY, OFFSET_SCALE = 11.5, 0.85, 0.0153, 64.0
BATCH, EPOCHS, SMOOTHING, WHITEN_BIAS_EPOCHS = 1024, 9.9, 0.2, 3
LOOKAHEAD_FROM_EPOCH, LOOKAHEAD_EVERY = 3, 5


def build(torch, nn):
    def conv(c_in, c_out):
        layer = nn.Conv2d(c_in, c_out, 3, padding="same", bias=False)
        nn.init.dirac_(layer.weight.data[:c_in])  # identity on the first c_in filters
        return layer

    def norm(channels):
        layer = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
        layer.weight.requires_grad = False  # scale fixed at 1
        return layer

    def group(c_in, c_out):
        return nn.Sequential(conv(c_in, c_out), nn.MaxPool2d(2), norm(c_out), nn.GELU(),
                             conv(c_out, c_out), norm(c_out), nn.GELU())

    class Scale(nn.Module):
        def forward(self, x):
            return x / 9

    whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
    nn.init.zeros_(whiten.bias)
    whiten.weight.requires_grad = False
    return nn.Sequential(whiten, nn.GELU(), group(24, 64), group(64, 256), group(256, 256),
                         nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False), Scale())


def whitening_kernel(torch, images, eps=5e-4):
    """(24, 3, 2, 2): eigenvectors of the 2x2 patches' second moments, scaled, and negated."""
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1)           # (n, c, 31, 31, 2, 2)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 12).double()
    values, vectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    values, vectors = values.flip(0), vectors.T.flip(0)        # largest first, one per row
    kernel = (vectors / torch.sqrt(values + eps)[:, None]).reshape(12, 3, 2, 2)
    return torch.cat([kernel, -kernel]).float()


def tta_logits(torch, model, images):
    def mirrored(x):
        return 0.5 * model(x) + 0.5 * model(x.flip(-1))

    padded = torch.nn.functional.pad(images, (1, 1, 1, 1), mode="reflect")
    shifted = [padded[:, :, :32, :32], padded[:, :, 2:, 2:]]
    return 0.5 * mirrored(images) + 0.25 * (mirrored(shifted[0]) + mirrored(shifted[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, help="CIFAR-10 in any layout cifar10 reads")
    parser.add_argument("--seed", type=int, default=0, help="torch's seed")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    import torch
    from torch import nn

    from week2_cnn.cifar_data import load_cifar10

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data = load_cifar10(args.data_dir)

    def tensor(x):
        normalised = (x.astype(np.float32) - MEAN) / STD
        return torch.from_numpy(normalised).permute(0, 3, 1, 2).contiguous()

    x_train, y_train = tensor(data.x_train), torch.from_numpy(data.y_train)
    x_test, y_test = tensor(data.x_test), torch.from_numpy(data.y_test)
    model = build(torch, nn).to(memory_format=torch.channels_last)
    # airbench's first 5,000 images; an image folder is read class by class, so spread them.
    with torch.no_grad():
        model[0].weight.copy_(whitening_kernel(torch, x_train[::10][:5000]))

    steps_per_epoch = len(x_train) // BATCH
    total = math.ceil(steps_per_epoch * EPOCHS)
    scale = BATCH * (1 + 1 / (1 - MOMENTUM))
    lr, decay = LR / scale, DECAY * BATCH / scale
    offsets = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    others = [p for p in model.parameters()
              if p.requires_grad and all(p is not q for q in offsets)]
    optimizer = torch.optim.SGD([
        {"params": offsets, "lr": lr * OFFSET_SCALE, "weight_decay": decay / (lr * OFFSET_SCALE)},
        {"params": others, "lr": lr, "weight_decay": decay / lr}], momentum=MOMENTUM,
        nesterov=True)
    peak = int(0.23 * total)
    schedule = np.interp(np.arange(total + 1), [0, peak, total], [0.2, 1.0, 0.07])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: schedule[i])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=SMOOTHING, reduction="sum")
    generator = torch.Generator().manual_seed(args.seed)
    first_flip = torch.rand(len(x_train), generator=generator) < 0.5
    padded = nn.functional.pad(torch.where(first_flip[:, None, None, None],
                                           x_train.flip(-1), x_train), (2, 2, 2, 2),
                               mode="reflect")
    slow, step, seconds = None, 0, 0.0
    for epoch in range(math.ceil(EPOCHS)):
        model[0].bias.requires_grad = epoch < WHITEN_BIAS_EPOCHS
        start = time.perf_counter()
        model.train()
        # Each image's own shift in [-2, 2]^2, then the whole epoch mirrored every other epoch.
        shifts = torch.randint(0, 5, (len(x_train), 2), generator=generator)
        images = torch.empty_like(x_train)
        for dy in range(5):
            for dx in range(5):
                chosen = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
                images[chosen] = padded[chosen, :, dy:dy + 32, dx:dx + 32]
        if epoch % 2 == 1:
            images = images.flip(-1)
        order = torch.randperm(len(x_train), generator=generator)
        for batch in range(steps_per_epoch):
            chosen = order[batch * BATCH:(batch + 1) * BATCH]
            loss = loss_fn(model(images[chosen].contiguous(memory_format=torch.channels_last)),
                           y_train[chosen])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if epoch >= LOOKAHEAD_FROM_EPOCH and step % LOOKAHEAD_EVERY == 0:
                if slow is None:
                    slow = {k: v.clone() for k, v in model.state_dict().items()}
                else:
                    rho = 0.95 ** LOOKAHEAD_EVERY * (step / total) ** 3
                    for key, value in model.state_dict().items():
                        if value.dtype.is_floating_point:
                            slow[key].lerp_(value, 1 - rho)
                            value.copy_(slow[key])
            if step >= total:
                break
        if slow is not None:  # the fast weights take the slow ones at each epoch's end
            for key, value in model.state_dict().items():
                if value.dtype.is_floating_point:
                    value.copy_(slow[key])
        seconds += time.perf_counter() - start
        print(f"epoch {epoch + 1}: {time.perf_counter() - start:.0f} s, loss "
              f"{loss.item() / BATCH:.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        logits = torch.cat([tta_logits(torch, model, x_test[i:i + 1000])
                            for i in range(0, len(x_test), 1000)])
        plain = torch.cat([model(x_test[i:i + 1000]) for i in range(0, len(x_test), 1000)])
    print(json.dumps({"seed": args.seed, "tta_accuracy": (logits.argmax(1) == y_test).float()
                      .mean().item(), "accuracy": (plain.argmax(1) == y_test).float().mean()
                      .item(), "train_seconds": seconds, "steps": step}))


if __name__ == "__main__":
    main()
