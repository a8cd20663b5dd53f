"""The authors' ``pca.pkl`` (scikit-learn 1.0.2 ``Pipeline(StandardScaler, PCA(31))``) without scikit-learn.

Current scikit-learn cannot ``transform`` with that pickle (its estimators expect attributes 1.0.2 did not
save), so we read only the fitted arrays and apply the same affine map:

    z = ((x - scaler.mean_) / scaler.scale_ - pca.mean_) @ pca.components_.T   [/ sqrt(explained_variance_) if whiten]

The pickle is read with a restricted unpickler: scikit-learn classes become inert attribute holders and only
numpy's array reconstruction is allowed, so loading neither needs scikit-learn nor runs arbitrary code.
The same arrays can come from an ``.npz`` (keys: scaler_mean, scaler_scale, pca_mean, components, and
optionally explained_variance, whiten); :meth:`PcaMap.save_npz` writes one.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.checkpoints import require_file
from core.errors import CheckpointError

_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
}


class _FittedEstimator:
    """Stands in for any scikit-learn estimator: unpickling just fills its ``__dict__``."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "sklearn":
            return type(name, (_FittedEstimator,), {})
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a PCA pickle")


@dataclass(frozen=True)
class PcaMap:
    """StandardScaler followed by PCA, as plain arrays."""

    scaler_mean: np.ndarray  # (D,)
    scaler_scale: np.ndarray  # (D,)
    pca_mean: np.ndarray  # (D,)
    components: np.ndarray  # (K, D)
    explained_variance: np.ndarray | None = None  # (K,), used only when whiten
    whiten: bool = False

    def transform(self, features: np.ndarray) -> np.ndarray:
        """(N, D) features -> (N, K) float64 components.

        Rounding follows scikit-learn 1.0.2: the scaler works in place on the input dtype (float32 for
        network features), the PCA centring and projection in float64.
        """
        x = np.array(features, dtype=np.result_type(features.dtype, np.float32), copy=True)
        x -= self.scaler_mean
        x /= self.scaler_scale
        projected = (x - self.pca_mean) @ self.components.T
        if self.whiten:
            projected /= np.sqrt(self.explained_variance)
        return projected

    def save_npz(self, path: str | os.PathLike) -> None:
        extra = {} if self.explained_variance is None else {"explained_variance": self.explained_variance}
        np.savez(
            path,
            scaler_mean=self.scaler_mean,
            scaler_scale=self.scaler_scale,
            pca_mean=self.pca_mean,
            components=self.components,
            whiten=np.array(self.whiten),
            **extra,
        )


def _from_pipeline(pipeline: object, source: Path) -> PcaMap:
    steps = getattr(pipeline, "steps", None)
    if not isinstance(steps, list) or len(steps) != 2:
        raise CheckpointError(f"{source}: expected a Pipeline(StandardScaler, PCA), found {type(pipeline).__name__}")
    scaler, pca = (step[1] for step in steps)
    try:
        with_mean, with_std = scaler.with_mean, scaler.with_std
        dim = pca.components_.shape[1]
        return PcaMap(
            scaler_mean=np.asarray(scaler.mean_, dtype=np.float64) if with_mean else np.zeros(dim),
            scaler_scale=np.asarray(scaler.scale_, dtype=np.float64) if with_std else np.ones(dim),
            pca_mean=np.asarray(pca.mean_, dtype=np.float64),
            components=np.asarray(pca.components_, dtype=np.float64),
            explained_variance=np.asarray(pca.explained_variance_, dtype=np.float64),
            whiten=bool(pca.whiten),
        )
    except AttributeError as exc:
        raise CheckpointError(f"{source}: not a fitted StandardScaler + PCA pipeline ({exc})") from None


def load_pca(path: str | os.PathLike) -> PcaMap:
    """Read ``pca.pkl`` (the authors' pickle) or an ``.npz`` holding the same arrays."""
    path = require_file(path, "PCA file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                return PcaMap(
                    scaler_mean=arrays["scaler_mean"].astype(np.float64),
                    scaler_scale=arrays["scaler_scale"].astype(np.float64),
                    pca_mean=arrays["pca_mean"].astype(np.float64),
                    components=arrays["components"].astype(np.float64),
                    explained_variance=arrays["explained_variance"].astype(np.float64)
                    if "explained_variance" in arrays
                    else None,
                    whiten=bool(arrays["whiten"]) if "whiten" in arrays else False,
                )
        with open(path, "rb") as handle:
            pipeline = _ArraysOnlyUnpickler(handle).load()
    except (KeyError, ValueError, OSError, pickle.UnpicklingError, EOFError) as exc:
        raise CheckpointError(f"cannot read PCA file {path}: {exc.__class__.__name__}: {exc}") from None
    return _from_pipeline(pipeline, path)
