"""Model.to_torch(): a trained model as a torch.nn.Module with the serving contract's inputs,
parameter names and output (docs/serving.md), scriptable with torch.jit.script.

This file is imported only by Model.to_torch() (and so is PyTorch)."""

from typing import Dict, List, Optional

import numpy as np

try:
    import torch
    from torch import Tensor, nn
except ImportError as e:
    raise ImportError("Model.to_torch() needs PyTorch, which is not installed (Debian package python3-torch; "
                      "scripts/setup --bench installs it)") from e


def to_torch(model):
    """The torch.nn.Module of `model` (a shadowsync.Model); see Model.to_torch()."""
    module = DLRMModule(model.config, model.named_parameters())
    module.eval()
    return module


class DotInteraction(nn.Module):
    """`dot`: [bottom output (N > 0)] + the dot products of the V vectors, lower triangle
    without the diagonal, row by row (i = 1..V-1, j = 0..i-1; src/model/layers.hpp)."""

    def __init__(self, config, parameters, vectors: int):
        super().__init__()
        rows, columns = torch.tril_indices(vectors, vectors, offset=-1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("columns", columns, persistent=False)

    def forward(self, dense: Optional[Tensor], vectors: Tensor) -> Tensor:
        products = torch.bmm(vectors, vectors.transpose(1, 2))
        pairs = products[:, self.rows, self.columns]
        if dense is None:
            return pairs
        return torch.cat([dense, pairs], dim=1)


class CatInteraction(nn.Module):
    """`cat`: the V vectors one after the other."""

    def __init__(self, config, parameters, vectors: int):
        super().__init__()

    def forward(self, dense: Optional[Tensor], vectors: Tensor) -> Tensor:
        return vectors.flatten(1)


def _parameter(parameters, name):
    return nn.Parameter(torch.from_numpy(parameters[name]).clone())


class FullRankCross(nn.Module):
    """One full-rank cross layer: x0 * (x W^T + b) + x (W = `weight` [D, D])."""

    def __init__(self, parameters, prefix: str):
        super().__init__()
        self.weight = _parameter(parameters, prefix + ".weight")
        self.bias = _parameter(parameters, prefix + ".bias")

    def forward(self, x0: Tensor, x: Tensor) -> Tensor:
        return x0 * torch.nn.functional.linear(x, self.weight, self.bias) + x


class LowRankCross(nn.Module):
    """One low-rank cross layer: x0 * ((x v^T) u^T + b) + x (v [r, D], u [D, r])."""

    def __init__(self, parameters, prefix: str):
        super().__init__()
        self.v = _parameter(parameters, prefix + ".v")
        self.u = _parameter(parameters, prefix + ".u")
        self.bias = _parameter(parameters, prefix + ".bias")

    def forward(self, x0: Tensor, x: Tensor) -> Tensor:
        projected = torch.nn.functional.linear(torch.nn.functional.linear(x, self.v), self.u, self.bias)
        return x0 * projected + x


class DcnInteraction(nn.Module):
    """`dcn` (DCN-v2): x0 = the V vectors side by side ([batch, V d]), then `cross_layers`
    cross layers x <- x0 * (W_l x + b_l) + x, full rank (`cross.<l>.weight`) or low rank
    (`cross.<l>.v`, `cross.<l>.u`; W_l = u v) as `cross_rank` says."""

    def __init__(self, config, parameters, vectors: int):
        super().__init__()
        layer = LowRankCross if config.get("cross_rank", 0) > 0 else FullRankCross
        self.cross = nn.ModuleList([layer(parameters, f"cross.{l}") for l in range(config["cross_layers"])])

    def forward(self, dense: Optional[Tensor], vectors: Tensor) -> Tensor:
        x0 = vectors.flatten(1)
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        return x


# Interaction name -> module class: __init__(config, parameters, vectors) and
# forward(dense: Optional[Tensor] (the bottom output, None without numeric columns),
# vectors: Tensor [batch, V, d]) -> the top MLP's input. An interaction with parameters keeps
# them in child modules named as the contract names them (e.g. a ModuleList `cross` for
# `cross.<l>.weight`): DLRMModule registers those children under the same names, so
# named_parameters() gives the contract's names.
INTERACTIONS = {"dot": DotInteraction, "cat": CatInteraction, "dcn": DcnInteraction}


def _linear(parameters, prefix):
    weight = parameters[prefix + ".weight"]
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(parameters[prefix + ".bias"]))
    return layer


def _layers(parameters, mlp):
    count = 0
    while f"{mlp}.{count}.weight" in parameters:
        count += 1
    return nn.ModuleList([_linear(parameters, f"{mlp}.{l}") for l in range(count)])


class DLRMModule(nn.Module):
    """A shadowsync model: forward(inputs) with the inputs of Dataset.model_inputs() as
    tensors ("numeric" float32 [batch, N], "categorical" int64 [batch, S], "multi_hot_<m>"
    int64 [batch, L_m], "multi_hot_<m>_length" int64 [batch]) -> probability float32 [batch]."""

    categorical_tables: int
    multi_hot_names: List[str]
    multi_hot_lengths: List[str]
    multi_hot_mean: List[bool]
    has_bottom: bool

    def __init__(self, config, parameters):
        super().__init__()
        name = config.get("interaction", "dot")
        if name not in INTERACTIONS:
            raise ValueError(f"interaction {name!r}: Model.to_torch() cannot express it (it expresses: "
                             f"{', '.join(sorted(INTERACTIONS))})")
        columns = config["schema"]["columns"]
        numeric = [c for c in columns if c["kind"] == "numeric"]
        multi_hot = [c for c in columns if c["kind"] == "multi_hot"]
        self.categorical_tables = sum(1 for c in columns if c["kind"] == "categorical")
        self.multi_hot_names = [f"multi_hot_{m}" for m in range(len(multi_hot))]
        self.multi_hot_lengths = [f"multi_hot_{m}_length" for m in range(len(multi_hot))]
        self.multi_hot_mean = [c.get("pooling", "sum") == "mean" for c in multi_hot]
        self.has_bottom = len(numeric) > 0
        log1p = [c.get("transform", "log1p") == "log1p" for c in numeric]
        self.register_buffer("log1p", torch.tensor(log1p, dtype=torch.bool), persistent=False)
        tables = self.categorical_tables + len(multi_hot)
        parameters = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in parameters.items()}
        self.bottom = _layers(parameters, "bottom")
        self.embedding = nn.ModuleList()
        for t in range(tables):
            weight = torch.from_numpy(parameters[f"embedding.{t}.weight"])
            self.embedding.append(nn.Embedding.from_pretrained(weight, freeze=False))
        # Registered before `top`, so that named_parameters() has the contract's order (bottom,
        # embedding, the interaction's, top).
        vectors = (1 if self.has_bottom else 0) + tables
        interaction = INTERACTIONS[name](config, parameters, vectors)
        for child_name, child in interaction.named_children():
            self.add_module(child_name, child)  # the contract's names (cross.<l>...)
        self.interaction = interaction
        self.top = _layers(parameters, "top")

    def forward(self, inputs: Dict[str, Tensor]) -> Tensor:
        pooled: List[Tensor] = []
        dense: Optional[Tensor] = None
        if self.has_bottom:
            x = inputs["numeric"]
            x = torch.where(self.log1p, torch.log1p(torch.clamp(x, min=0.0)), x)
            for layer in self.bottom:
                x = torch.relu(layer(x))
            dense = x
            pooled.append(x)
        categorical = inputs["categorical"] if self.categorical_tables > 0 else torch.zeros(0)
        for t, table in enumerate(self.embedding):
            if t < self.categorical_tables:
                pooled.append(table(categorical[:, t]))
            else:
                m = t - self.categorical_tables
                ids = inputs[self.multi_hot_names[m]]
                length = inputs[self.multi_hot_lengths[m]]
                inside = torch.arange(ids.shape[1], device=ids.device)[None, :] < length[:, None]
                bag = (table(ids) * inside.unsqueeze(2).to(torch.float32)).sum(dim=1)
                if self.multi_hot_mean[m]:
                    bag = bag / torch.clamp(length, min=1).to(torch.float32)[:, None]
                pooled.append(bag)
        z = self.interaction(dense, torch.stack(pooled, dim=1))
        last = len(self.top) - 1
        for l, layer in enumerate(self.top):
            z = layer(z)
            if l < last:
                z = torch.relu(z)
        return torch.sigmoid(z[:, 0])
