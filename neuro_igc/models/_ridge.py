"""Ridge regression in torch: closed form, per-target regularisation chosen by k-fold CV.

Two exact forms of the same estimator, chosen by the shape of X:

- primal (n_samples >= n_features): ``X = U S V^T`` and ``coef = V diag(s / (s^2 + alpha)) U^T Y``;
- dual / kernel (n_features > n_samples): ``K = X X^T = Q diag(lam) Q^T`` and
  ``coef = X^T Q diag(1 / (lam + alpha)) Q^T Y``, the cost of which follows the number of samples,
  not of features (the ``decoding_ridge`` regime: thousands of trials, tens of thousands of vertices).

Both centre X and Y on the training part of each fold when fitting an intercept (the dual form
centres the kernel, never a copy of X) and compute in float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from neuro_igc.models._base import ZooModel

__all__ = ["Ridge", "DEFAULT_ALPHAS"]

#: default grid of regularisation strengths (log-spaced, 1e-2 .. 1e6)
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 17))


class Ridge(ZooModel):
    """Multi-output ridge regression, fitted in closed form, usable as an ``nn.Module``.

    The field's standard baseline, as an encoder (images or image features -> vertices) or a
    decoder (betas -> image statistics). Inputs are flattened: ``x`` may be images
    ``(n, C, H, W)``, which are then regressed on their pixels. Each target gets its own
    ``alpha`` from ``alphas``: the one with the smallest squared error summed over ``cv``
    contiguous folds (as ``sklearn.model_selection.KFold(cv)``, without shuffling: NSD trials are
    in session order, so contiguous folds keep a session's trials together). With one alpha in
    the grid no cross-validation is run.

    For each fold (and for the final fit) X and Y are centred on the training part (when
    ``fit_intercept``). With at least as many samples as features, ``X = U S V^T`` and
    ``coef = V diag(s / (s^2 + alpha)) U^T Y``; with more features than samples the same
    coefficients come from the kernel ``X X^T = Q diag(lam) Q^T`` as
    ``X^T Q diag(1 / (lam + alpha)) Q^T Y`` (``solver_`` says which). Everything is computed in
    float64 and the result equals ``sklearn.linear_model.Ridge(alpha)``.

    Parameters
    ----------
    alphas : float or sequence of float, default=DEFAULT_ALPHAS (1e-2 .. 1e6, 17 values)
    cv : int, default=5
        Number of folds (>= 2).
    fit_intercept : bool, default=True
    n_features, n_targets : int, optional
        Allocate the layer before fitting (used when a checkpoint is loaded); set by ``fit``.

    Attributes
    ----------
    coef_ : torch.Tensor (n_targets, n_features), float64
    intercept_ : torch.Tensor (n_targets,), float64
    alpha_ : torch.Tensor (n_targets,)
        The regularisation chosen for each target.
    cv_mse_ : np.ndarray (n_alphas, n_targets)
        Mean squared held-out error of each alpha (absent with one alpha).
    n_features_in_ : int
    solver_ : str
        ``"primal"`` (SVD of X) or ``"dual"`` (eigendecomposition of the kernel X X^T).

    Notes
    -----
    The model is linear: ``igc_input_linear`` is the fitted ``nn.Linear`` applied to the flattened
    input and ``forward_from_input_linear`` the identity, so the attribution engine's input-linear
    factorization applies (IG is ``coef * (x - x0)`` exactly). No separate ``igc_readout`` is
    declared: the same layer cannot be both the first map and a readout called inside
    ``forward_from_input_linear``. Its parameters do not require gradients (fit them with
    :meth:`fit`, not :func:`neuro_igc.models.fit`).

    Examples
    --------
    >>> X = torch.randn(100, 5, dtype=torch.float64); Y = X @ torch.ones(5, 2, dtype=torch.float64)
    >>> model = Ridge(alphas=[1e-3, 1.0, 1e3]).fit(X, Y)
    >>> model.alpha_.tolist()
    [0.001, 0.001]
    """

    name = "ridge"

    def __init__(
        self,
        alphas: float | Sequence[float] = DEFAULT_ALPHAS,
        cv: int = 5,
        fit_intercept: bool = True,
        n_features: int | None = None,
        n_targets: int | None = None,
    ):
        super().__init__()
        alphas = [float(alphas)] if np.isscalar(alphas) else [float(a) for a in alphas]
        if not alphas or min(alphas) < 0:
            raise ValueError(f"Invalid value for 'alphas': one or more values >= 0 are needed; got {alphas!r}.")
        if int(cv) < 2:
            raise ValueError(f"Invalid value for 'cv': at least 2 folds are needed; got {cv!r}.")
        self.alphas = alphas
        self.cv = int(cv)
        self.fit_intercept = bool(fit_intercept)
        self.linear: nn.Linear | None = None
        self._store_config(alphas=alphas, cv=cv, fit_intercept=fit_intercept,
                           n_features=n_features, n_targets=n_targets)
        if n_features is not None and n_targets is not None:
            self._allocate(int(n_features), int(n_targets))

    def _allocate(self, n_features: int, n_targets: int) -> None:
        self.linear = nn.Linear(n_features, n_targets, dtype=torch.float64)
        self.linear.requires_grad_(False)
        self.register_buffer("alpha_", torch.zeros(n_targets, dtype=torch.float64))
        self.n_features_in_ = n_features
        self._config.update(n_features=n_features, n_targets=n_targets)

    # -- fitted attributes ---------------------------------------------------------------------
    def _fitted(self) -> nn.Linear:
        if self.linear is None:
            raise RuntimeError("This Ridge is not fitted yet: call model.fit(X, Y) first.")
        return self.linear

    @property
    def coef_(self) -> torch.Tensor:
        return self._fitted().weight

    @property
    def intercept_(self) -> torch.Tensor:
        return self._fitted().bias

    @property
    def igc_input_linear(self) -> nn.Linear:
        return self._fitted()

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """The identity: the whole model is its input linear map."""
        return z

    def _flatten(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened input (n, n_features), checked against the fitted size."""
        x = x.flatten(1)
        n_in = self._fitted().in_features
        if x.shape[1] != n_in:
            raise ValueError(
                f"Ridge was fitted on {n_in} features; got x with {x.shape[1]} (shape {tuple(x.shape)})."
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (n, *input_shape) -> (n, n_targets), computed in the coefficients' dtype (float64)."""
        lin = self._fitted()
        return lin(self._flatten(x).to(lin.weight.dtype))

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X, Y, device=None) -> "Ridge":
        """Choose each target's alpha by k-fold CV, then fit on all samples.

        Parameters
        ----------
        X : (n_samples, *input_shape) array-like
            Flattened to (n_samples, n_features).
        Y : (n_samples, n_targets) or (n_samples,) array-like
        device : str or torch.device, optional
            Where to compute (default: CPU, or the device of a tensor ``X``).

        Returns
        -------
        self
        """
        X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
        Y = torch.as_tensor(np.asarray(Y) if not isinstance(Y, torch.Tensor) else Y)
        dev = torch.device(device) if device is not None else X.device
        X = X.reshape(X.shape[0], -1).to(dev, torch.float64)
        Y = Y.to(dev, torch.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise ValueError(
                f"Ridge.fit expects X (n_samples, ...) and Y (n_samples, n_targets) with the same "
                f"n_samples; got X {tuple(X.shape)} and Y {tuple(Y.shape)}."
            )
        n = X.shape[0]
        if len(self.alphas) > 1 and n < self.cv:
            raise ValueError(f"Invalid value for 'cv': {self.cv} folds need >= {self.cv} samples; got {n}.")
        for pname, arr in (("X", X), ("Y", Y)):
            if not torch.isfinite(arr).all():
                bad = int((~torch.isfinite(arr)).reshape(n, -1).any(1).sum())
                raise ValueError(f"Invalid value for {pname!r}: {bad} of {n} samples hold NaN or inf; "
                                 "drop or impute them before Ridge.fit.")
        alphas = torch.tensor(self.alphas, dtype=torch.float64, device=dev)
        dual = X.shape[1] > n
        self.solver_ = "dual" if dual else "primal"
        K = X @ X.T if dual else None  # the kernel, once for every fold
        if len(self.alphas) > 1:
            mse = torch.zeros(len(self.alphas), Y.shape[1], dtype=torch.float64, device=dev)
            for test in _kfold(n, self.cv):
                train = torch.ones(n, dtype=torch.bool)
                train[test] = False
                train = train.to(dev)
                if dual:
                    mse += _fold_errors_dual(K, Y, train, alphas, self.fit_intercept)
                else:
                    mse += self._fold_errors(X[train], Y[train], X[~train], Y[~train], alphas)
            mse /= n
            best = mse.argmin(0)
            self.cv_mse_ = mse.cpu().numpy()
        else:
            best = torch.zeros(Y.shape[1], dtype=torch.long, device=dev)
        if dual:
            coef, intercept = _solve_dual(X, K, Y, alphas, best, self.fit_intercept)
        else:
            coef, intercept = _solve(X, Y, alphas, best, self.fit_intercept)
        del K
        self._allocate(X.shape[1], Y.shape[1])
        self.to(dev)
        with torch.no_grad():
            self.linear.weight.copy_(coef.T)
            self.linear.bias.copy_(intercept)
            self.alpha_.copy_(alphas[best])
        return self

    def _fold_errors(self, Xtr, Ytr, Xte, Yte, alphas) -> torch.Tensor:
        """Summed squared held-out error, (n_alphas, n_targets)."""
        if self.fit_intercept:
            xm, ym = Xtr.mean(0), Ytr.mean(0)
            Xtr, Ytr, Xte, Yte = Xtr - xm, Ytr - ym, Xte - xm, Yte - ym
        U, s, Vh = torch.linalg.svd(Xtr, full_matrices=False)
        A = Xte @ Vh.T  # (n_test, r)
        B = U.T @ Ytr  # (r, t)
        out = []
        for a in alphas:
            f = _shrink(s, a, Xtr.shape)
            pred = (A * f) @ B
            out.append(((pred - Yte) ** 2).sum(0))
        return torch.stack(out)


def _kfold(n: int, k: int):
    """Contiguous folds as sklearn's KFold(k) without shuffling: the first n % k folds get one more."""
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    start = 0
    for size in sizes:
        yield torch.arange(start, start + int(size))
        start += int(size)


def _shrink(s: torch.Tensor, alpha, shape) -> torch.Tensor:
    """``s / (s^2 + alpha)``, with 0 for numerically null singular values (the pseudo-inverse)."""
    tol = s.max() * max(shape) * torch.finfo(s.dtype).eps if s.numel() else 0.0
    return torch.where(s > tol, s / (s**2 + alpha), torch.zeros_like(s))


def _solve(X, Y, alphas, best, fit_intercept):
    """Closed-form coefficients (n_features, n_targets) and intercepts with alpha per target."""
    if fit_intercept:
        xm, ym = X.mean(0), Y.mean(0)
        Xc, Yc = X - xm, Y - ym
    else:
        Xc, Yc = X, Y
    U, s, Vh = torch.linalg.svd(Xc, full_matrices=False)
    B = U.T @ Yc
    coef = torch.zeros(X.shape[1], Y.shape[1], dtype=X.dtype, device=X.device)
    for i in torch.unique(best).tolist():
        cols = best == i
        f = _shrink(s, alphas[i], Xc.shape)
        coef[:, cols] = Vh.T @ (f[:, None] * B[:, cols])
    intercept = (ym - xm @ coef) if fit_intercept else torch.zeros(Y.shape[1], dtype=X.dtype, device=X.device)
    return coef, intercept


def _centred_block(K: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, row_mean: torch.Tensor | None):
    """``K[rows][:, cols]`` (one copy) for the features centred on the mean of the ``cols`` samples,
    from the kernel alone: ``(x_i - m).(x_j - m) = K_ij - mean_k K_ik - mean_k K_kj + mean_kl K_kl``
    (k, l among ``cols``); ``row_mean[i] = mean_k K_ik`` (None: no centring)."""
    block = K[rows[:, None], cols]
    if row_mean is not None:
        block -= row_mean[rows][:, None]
        block -= row_mean[cols][None, :]
        block += row_mean[cols].mean()
    return block


def _inverse(lam: torch.Tensor, alpha, n: int) -> torch.Tensor:
    """``1 / (lam + alpha)``, with 0 for numerically null eigenvalues (the pseudo-inverse, as
    :func:`_shrink` for the singular values)."""
    tol = lam.max().clamp_min(0) * n * torch.finfo(lam.dtype).eps if lam.numel() else 0.0
    return torch.where(lam > tol, 1.0 / (lam + alpha), torch.zeros_like(lam))


def _fold_errors_dual(K, Y, train, alphas, fit_intercept) -> torch.Tensor:
    """Summed squared held-out error of one fold, (n_alphas, n_targets), from the kernel."""
    tr, te = torch.nonzero(train).squeeze(1), torch.nonzero(~train).squeeze(1)
    row_mean = (K @ train.to(K.dtype)) / tr.numel() if fit_intercept else None  # x_i . m, no copy of K
    Ktr = _centred_block(K, tr, tr, row_mean)
    Kte = _centred_block(K, te, tr, row_mean)
    Ytr, Yte = Y[tr], Y[te]
    if fit_intercept:
        ym = Ytr.mean(0)
        Ytr, Yte = Ytr - ym, Yte - ym
    lam, Q = torch.linalg.eigh(Ktr)
    del Ktr
    A = Kte @ Q  # (n_test, n_train)
    B = Q.T @ Ytr  # (n_train, t)
    out = []
    for a in alphas:
        pred = (A * _inverse(lam, a, tr.numel())) @ B
        out.append(((pred - Yte) ** 2).sum(0))
    return torch.stack(out)


def _solve_dual(X, K, Y, alphas, best, fit_intercept):
    """The coefficients of :func:`_solve` from the kernel: ``X_c^T Q diag(1/(lam+alpha)) Q^T Y_c``."""
    n = X.shape[0]
    if fit_intercept:  # centre the kernel in place: its last use
        row_mean = K.mean(1)
        K -= row_mean[:, None]
        K -= row_mean[None, :]
        K += row_mean.mean()
    Yc = Y - Y.mean(0) if fit_intercept else Y
    lam, Q = torch.linalg.eigh(K)
    B = Q.T @ Yc
    D = torch.zeros(n, Y.shape[1], dtype=X.dtype, device=X.device)  # dual coefficients
    for i in torch.unique(best).tolist():
        cols = best == i
        D[:, cols] = Q @ (_inverse(lam, alphas[i], n)[:, None] * B[:, cols])
    coef = X.T @ D
    if not fit_intercept:
        return coef, torch.zeros(Y.shape[1], dtype=X.dtype, device=X.device)
    xm = X.mean(0)
    coef -= xm[:, None] * D.sum(0)[None, :]  # X_c^T D without a centred copy of X
    return coef, Y.mean(0) - xm @ coef
