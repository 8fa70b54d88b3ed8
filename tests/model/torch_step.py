#!/usr/bin/python3
"""One training step of the DLRM model in PyTorch, for tests/model/torch_step_test.cpp. Arguments:
pairs IN OUT. Reads the model (layers, tables, pooling), the batch and the optimizer settings from
the JSON file IN, runs forward (nn.EmbeddingBag with mode sum/mean per table; interaction dot, cat or
dcn: DCN-v2 cross layers x_{l+1} = x0 * (W x_l + b) + x_l, W full rank or U V), BCE loss, backward,
dense Adagrad (torch.optim.Adagrad) and row-wise Adagrad on the tables, and writes the loss and
every parameter after the step to the JSON file OUT. Exits 77 (a skip) with the reason when torch
is missing."""

import json
import sys

try:
    import torch
    from torch import nn
except ImportError as error:  # the test skips with this reason
    print(f"torch is not importable by {sys.executable}: {error}")
    sys.exit(77)


def linear(layer):
    out_features, in_features = len(layer["bias"]), layer["in"]
    module = nn.Linear(in_features, out_features)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(layer["weight"], dtype=torch.float32).reshape(out_features, in_features))
        module.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float32))
    return module


def parameter(values, *shape):
    return nn.Parameter(torch.tensor(values, dtype=torch.float32).reshape(*shape))


def cross_layers(spec):
    """The dcn cross layers: a dict of parameters each (weight, or v and u; bias)."""
    layers = []
    for layer in spec.get("cross", []):
        dim = len(layer["bias"])
        params = {"bias": parameter(layer["bias"], dim)}
        if "weight" in layer:
            params["weight"] = parameter(layer["weight"], dim, dim)
        else:
            rank = len(layer["v"]) // dim
            params["v"] = parameter(layer["v"], rank, dim)
            params["u"] = parameter(layer["u"], dim, rank)
        layers.append(params)
    return layers


def step(in_path, out_path):
    with open(in_path) as f:
        spec = json.load(f)
    d = spec["dim"]
    bottom = [linear(layer) for layer in spec["bottom"]]
    top = [linear(layer) for layer in spec["top"]]
    cross = cross_layers(spec)
    tables = []
    for table in spec["tables"]:
        bag = nn.EmbeddingBag(table["rows"], d, mode=table["pooling"])
        with torch.no_grad():
            bag.weight.copy_(torch.tensor(table["weight"], dtype=torch.float32).reshape(table["rows"], d))
        tables.append(bag)

    batch = spec["batch"]
    rows = len(batch["labels"])
    labels = torch.tensor(batch["labels"], dtype=torch.float32)
    vectors = []
    x = None
    if bottom:
        x = torch.tensor(batch["numeric"], dtype=torch.float32).reshape(rows, -1)
        for layer in bottom:
            x = torch.relu(layer(x))
        vectors.append(x)
    for t, bag in enumerate(tables):
        lists = batch["lists"][t]  # one list of ids per example (one id for a one-hot table)
        ids = torch.tensor([i for lst in lists for i in lst], dtype=torch.int64)
        offsets, start = [], 0
        for lst in lists:
            offsets.append(start)
            start += len(lst)
        vectors.append(bag(ids, torch.tensor(offsets, dtype=torch.int64)))
    stacked = torch.stack(vectors, dim=1)  # rows x V x d
    if spec["interaction"] == "dot":
        v = stacked.shape[1]
        products = torch.bmm(stacked, stacked.transpose(1, 2))
        li, lj = torch.tril_indices(v, v, offset=-1)
        pairs = products[:, li, lj]
        z = torch.cat([x, pairs], dim=1) if bottom else pairs
    else:
        z = stacked.reshape(rows, -1)
    if spec["interaction"] == "dcn":
        x0 = z
        for params in cross:
            if "weight" in params:
                p = z @ params["weight"].t() + params["bias"]
            else:
                p = (z @ params["v"].t()) @ params["u"].t() + params["bias"]
            z = x0 * p + z
    for i, layer in enumerate(top):
        z = layer(z)
        if i + 1 < len(top):
            z = torch.relu(z)
    loss = nn.functional.binary_cross_entropy_with_logits(z[:, 0], labels)

    dense_params = [p for layer in bottom + top for p in (layer.weight, layer.bias)]
    dense_params += [p for params in cross for p in params.values()]
    opt = torch.optim.Adagrad(dense_params, lr=spec["lr"], eps=spec["eps"], initial_accumulator_value=0.0)
    opt.zero_grad()
    for bag in tables:
        bag.weight.grad = None
    loss.backward()
    opt.step()
    # Row-wise Adagrad on the tables (accumulators start at 0): s += mean(g^2) over the row,
    # row -= emb_lr g / (sqrt(s) + eps); a row no example touched has g = 0 and stays as it was.
    with torch.no_grad():
        for bag in tables:
            g = bag.weight.grad
            s = (g * g).mean(dim=1, keepdim=True)
            bag.weight -= spec["emb_lr"] * g / (s.sqrt() + spec["eps"])

    out = {
        "loss": float(loss),
        "bottom": [{"weight": l.weight.detach().flatten().tolist(), "bias": l.bias.detach().tolist()} for l in bottom],
        "top": [{"weight": l.weight.detach().flatten().tolist(), "bias": l.bias.detach().tolist()} for l in top],
        "cross": [{k: v.detach().flatten().tolist() for k, v in params.items()} for params in cross],
        "tables": [bag.weight.detach().flatten().tolist() for bag in tables],
    }
    with open(out_path, "w") as f:
        json.dump(out, f)


def main():
    torch.set_num_threads(1)
    args = sys.argv[1:]
    for i in range(0, len(args), 2):
        step(args[i], args[i + 1])


if __name__ == "__main__":
    main()
