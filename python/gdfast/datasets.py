"""Data sets that ship inside the package."""
from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_breast_cancer"]


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The Breast Cancer Wisconsin (Diagnostic) data: 569 samples, 30 features.

    Returns
    -------
    X : ndarray of shape (569, 30), float64
    y : ndarray of shape (569,), float64
        1 for malignant (212 samples), 0 for benign (357).
    feature_names : list of str

    Notes
    -----
    W. H. Wolberg, W. N. Street, O. L. Mangasarian (1995), UCI Machine Learning Repository,
    CC BY 4.0; see ``gdfast/data/breast_cancer.LICENSE.txt``.
    """
    path = resources.files("gdfast") / "data" / "breast_cancer.csv"
    with path.open("r") as f:
        header = f.readline().strip().split(",")
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1], data[:, -1], header[:-1]
