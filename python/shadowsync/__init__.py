"""shadowsync: the ShadowSync CTR trainer (C++ engine) from Python.

Data:       Dataset(path) or Dataset.from_arrays(numeric, categorical, labels)
Training:   train(data, eval_data=None, **options) -> Model   (options as the CLI's flags)
Options:    RUN_OPTIONS, the table of run options shared with `shadowsync train`
Models:     Model.evaluate(data), Model.predict(data), Model.save(path); load(path)
Synthetic:  generate(path, rows, seed) writes Criteo-format TSV with a known optimum
Curves:     plot_metrics(paths, out) draws training curves of --metrics files (gnuplot)
Serving:    Model.to_torch(), Dataset.model_inputs(); shadowsync.serving hashes raw rows (docs/serving.md)
sklearn:    ShadowSyncClassifier (shadowsync.sklearn; needs scikit-learn)

See docs/python.md.
"""

from ._api import Dataset, Model, generate, load, plot_metrics, train, RUN_OPTIONS, SCHEMA_OPTIONS, TRAIN_OPTIONS

__version__ = "0.1.0"

__all__ = ["Dataset", "Model", "ShadowSyncClassifier", "generate", "load", "plot_metrics", "train", "RUN_OPTIONS", "SCHEMA_OPTIONS",
           "TRAIN_OPTIONS",
           "__version__"]


def __getattr__(name):
    # scikit-learn is imported only when the estimator is asked for.
    if name == "ShadowSyncClassifier":
        from .sklearn import ShadowSyncClassifier
        return ShadowSyncClassifier
    raise AttributeError(f"module 'shadowsync' has no attribute {name!r}")
