"""Feature-dependent (local) quantile aggregation: a softmax gate fitted by Adam.

torch is imported lazily, inside :func:`fit_local_gate` and the gate's methods,
so that ``import skreweight.quantile`` never imports it.
"""

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from skreweight.utils._sklearn_fixes import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = []

LOCAL_DEFAULTS = {
    "resolution": "quantile",
    "hidden_layer_sizes": (64, 64),
    "dropout": 0.0,
    "learning_rate": 3e-3,
    "weight_decay": 1e-7,
    "max_epochs": 100,
    "batch_size": None,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
    "crossing_penalty": 1.0,
    "crossing_margin": 1e-3,
    "device": "cpu",
    "num_threads": None,
}

_LOCAL_CONSTRAINTS = {
    "resolution": [StrOptions({"quantile", "fine"})],
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "crossing_penalty": [Interval(Real, 0, None, closed="left")],
    "crossing_margin": [Interval(Real, 0, None, closed="left")],
    "device": "no_validation",
    "num_threads": [Interval(Integral, 1, None, closed="left"), None],
}

# Below this many training rows no validation split is held out.
_MIN_ROWS_EARLY_STOPPING = 50
_PREDICT_CHUNK = 8192


def check_local_params(local_params):
    """Merge ``local_params`` into the defaults, validating keys and values."""
    if local_params is None:
        return dict(LOCAL_DEFAULTS)
    unknown = sorted(set(local_params) - set(LOCAL_DEFAULTS))
    if unknown:
        raise ValueError(
            f"local_params has unknown keys {unknown}; allowed keys are "
            f"{sorted(LOCAL_DEFAULTS)}."
        )
    params = {**LOCAL_DEFAULTS, **local_params}
    validate_parameter_constraints(
        _LOCAL_CONSTRAINTS, params, caller_name="QuantileAggregator local_params"
    )
    hidden = np.atleast_1d(np.asarray(params["hidden_layer_sizes"]))
    if hidden.ndim != 1 or not np.issubdtype(hidden.dtype, np.integer):
        raise ValueError(
            "local_params['hidden_layer_sizes'] must be an int or a sequence of "
            f"positive ints; got {params['hidden_layer_sizes']!r}."
        )
    if np.any(hidden < 1):
        raise ValueError(
            "local_params['hidden_layer_sizes'] must hold positive ints; got "
            f"{params['hidden_layer_sizes']!r}."
        )
    params["hidden_layer_sizes"] = tuple(int(h) for h in hidden)
    return params


def import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            'weighting="local" needs PyTorch: pip install "skreweight[torch]" '
            "(CPU-only: pip install torch==2.13.0)."
        ) from exc
    return torch


def check_device(device):
    """Resolve ``local_params["device"]`` early (imports torch)."""
    from skreweight.torch._base import _resolve_device

    return _resolve_device(device)


def gate_features(X):
    """The numeric dense float array the gate reads from ``X``."""
    X = check_array(
        X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64, input_name="X"
    )
    if hasattr(X, "toarray"):
        X = X.toarray()
    return X


def _build_gate(torch, n_features, hidden, n_outputs, dropout):
    sizes = [n_features, *hidden]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ELU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
    layers.append(torch.nn.Linear(sizes[-1], n_outputs))
    return torch.nn.Sequential(*layers)


class LocalWeightGate:
    """Fitted gate of ``weighting="local"``: per-row simplex weights.

    ``predict_weights(X)`` returns an array of shape ``(n_samples, n_inputs,
    n_quantiles)`` whose column ``k`` is a probability vector over the
    ``n_inputs`` aggregated base predictions at level ``quantiles_[k]``:
    ``n_inputs = n_estimators`` for ``resolution="quantile"`` (base ``j`` at
    the same level) and ``n_estimators * n_quantiles`` for ``"fine"`` (input
    ``j * n_quantiles + l`` is base ``j`` at level ``quantiles_[l]``).

    Attributes
    ----------
    module_ : torch.nn.Module
        The MLP mapping standardised features to the logits (on the CPU).
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        Standardisation of the features.
    resolution : str
        ``"quantile"`` or ``"fine"``.
    n_estimators, n_quantiles : int
        Shape of the base predictions.
    device_ : torch.device
        Device the gate was trained on.
    n_iter_ : int
        Number of epochs run.
    best_epoch_ : int
        Epoch whose parameters were kept (the best validation loss with early
        stopping, the last epoch otherwise).
    loss_curve_ : list of float
        Training loss (pinball plus crossing penalty, standardised ``y``) per
        epoch.
    validation_scores_ : list of float or None
        Validation loss per epoch, with early stopping.
    """

    def __init__(self, resolution, n_estimators, n_quantiles):
        self.resolution = resolution
        self.n_estimators = n_estimators
        self.n_quantiles = n_quantiles

    @property
    def n_inputs(self):
        if self.resolution == "fine":
            return self.n_estimators * self.n_quantiles
        return self.n_estimators

    def predict_weights(self, X):
        """Per-row weights of the base predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric input rows.

        Returns
        -------
        weights : ndarray of shape (n_samples, n_inputs, n_quantiles)
            Non-negative, summing to one over axis 1.
        """
        torch = import_torch()
        X = gate_features(X)
        Z = (X - self.x_mean_) / self.x_scale_
        self.module_.eval()
        out = []
        with torch.no_grad():
            for start in range(0, Z.shape[0], _PREDICT_CHUNK):
                chunk = torch.as_tensor(
                    Z[start : start + _PREDICT_CHUNK], dtype=torch.float32
                )
                out.append(self.module_(chunk).double().numpy())
        if not out:
            return np.zeros((0, self.n_inputs, self.n_quantiles))
        # Softmax in float64, so that every column sums to one to rounding.
        logits = np.concatenate(out).reshape(-1, self.n_inputs, self.n_quantiles)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        return weights / weights.sum(axis=1, keepdims=True)

    def combine(self, X, stacked):
        """Aggregate base predictions ``stacked`` (n, p, m) at rows ``X``."""
        weights = self.predict_weights(X)
        n = stacked.shape[0]
        if self.resolution == "fine":
            return np.einsum("ni,nik->nk", stacked.reshape(n, -1), weights)
        return np.einsum("njk,njk->nk", stacked, weights)


def _pinball(torch, y, q, tau):
    """Pinball loss summed over levels, per row: (n,)."""
    u = y[:, None] - q
    return torch.maximum(tau * u, (tau - 1) * u).sum(dim=1)


def _crossing(torch, q, margin):
    """Crossing penalty per row: the mean over level pairs ``k < l`` of
    ``(q_k - q_l + margin * (l - k))_+``.

    With ``r_k = q_k - margin * k`` the sum over pairs is
    ``sum_{k<l} (r_k - r_l)_+ = sum_k c_k (r_(k) - r_k) / 2``, where ``r_(k)``
    is ``r`` sorted and ``c_k = 2k - (m - 1)``: the identity
    ``(a)_+ = (|a| + a) / 2`` with both pair sums written in closed form.
    This is exact, O(m log m) instead of O(m^2) per row, and zero iff the
    levels are ``margin``-separated.
    """
    m = q.shape[1]
    k = torch.arange(m, dtype=q.dtype, device=q.device)
    r = q - margin * k
    c = 2 * k - (m - 1)
    total = 0.5 * ((torch.sort(r, dim=1).values - r) * c).sum(dim=1)
    return total / (m * (m - 1) / 2)


def fit_local_gate(X, oof, y, quantiles, sample_weight, params, random_state):
    """Train the softmax gate on out-of-fold predictions ``oof`` (n, p, m).

    Rows with zero ``sample_weight`` are dropped before anything else, so they
    have no influence at all. Returns a fitted :class:`LocalWeightGate`.
    """
    torch = import_torch()
    from skreweight.torch._base import _fork_devices, _resolve_device, _seed_from
    from skreweight.torch._estimators import _torch_threads

    rng = check_random_state(random_state)
    seed = _seed_from(rng)
    device = _resolve_device(params["device"])

    X = gate_features(X)
    n_samples, p, m = oof.shape
    sw = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    keep = sw > 0
    if not keep.any():
        raise ValueError("sample_weight must have at least one positive entry.")
    X, oof, y, sw = X[keep], oof[keep], y[keep], sw[keep]
    n = X.shape[0]

    # Standardise X and y (weighted); weights are invariant to the y scaling
    # because the aggregate is a convex combination.
    x_mean = np.average(X, axis=0, weights=sw)
    x_scale = np.sqrt(np.average((X - x_mean) ** 2, axis=0, weights=sw))
    x_scale[x_scale <= 1e-12 * np.maximum(1.0, np.abs(x_mean))] = 1.0
    y_mean = float(np.average(y, weights=sw))
    y_scale = float(np.sqrt(np.average((y - y_mean) ** 2, weights=sw)))
    if not np.isfinite(y_scale) or y_scale <= 0:
        y_scale = 1.0
    Z = (X - x_mean) / x_scale
    G = (oof - y_mean) / y_scale
    t = (y - y_mean) / y_scale
    if params["resolution"] == "fine":
        G = G.reshape(n, p * m)
    sw = sw / sw.mean()

    gate = LocalWeightGate(params["resolution"], p, m)
    n_inputs = gate.n_inputs
    batch_size = params["batch_size"] or 2 ** (3 + int(np.floor(np.log10(max(n, 1)))))
    batch_size = min(batch_size, n)

    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.random.fork_rng(devices=_fork_devices(device)))
        stack.enter_context(_torch_threads(params["num_threads"]))
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed + 1)

        module = _build_gate(
            torch,
            Z.shape[1],
            params["hidden_layer_sizes"],
            n_inputs * m,
            params["dropout"],
        )
        last = module[-1]
        with torch.no_grad():
            last.weight.mul_(0.1)
            last.bias.zero_()
            if params["resolution"] == "fine":
                # Start on the diagonal (input level == output level), ~90% mass.
                bias = last.bias.view(p, m, m)
                idx = torch.arange(m)
                bias[:, idx, idx] = float(np.log(9.0 * m))
        module = module.to(device)

        def tensor(a):
            return torch.as_tensor(a, dtype=torch.float32, device=device)

        Zt, Gt, tt, swt = tensor(Z), tensor(G), tensor(t), tensor(sw)
        tau = tensor(quantiles)
        penalty = float(params["crossing_penalty"]) if m > 1 else 0.0
        margin = float(params["crossing_margin"])

        def batch_loss(idx, train):
            module.train(train)
            logits = module(Zt[idx]).reshape(-1, n_inputs, m)
            w = torch.softmax(logits, dim=1)
            if params["resolution"] == "fine":
                q = torch.einsum("ni,nik->nk", Gt[idx], w)
            else:
                q = (Gt[idx] * w).sum(dim=1)
            loss = _pinball(torch, tt[idx], q, tau)
            if penalty > 0:
                loss = loss + penalty * _crossing(torch, q, margin)
            s = swt[idx]
            return (s * loss).sum() / s.sum()

        early = params["early_stopping"] and n >= _MIN_ROWS_EARLY_STOPPING
        perm = torch.randperm(n, generator=generator).to(device)
        if early:
            n_val = max(1, int(round(params["validation_fraction"] * n)))
            val_idx, train_idx = perm[:n_val], perm[n_val:]
        else:
            val_idx, train_idx = None, perm
        n_train = train_idx.numel()
        batch_size = min(batch_size, n_train)

        optimizer = torch.optim.Adam(
            module.parameters(),
            lr=params["learning_rate"],
            weight_decay=params["weight_decay"],
            amsgrad=True,
        )
        loss_curve, val_scores = [], []
        best, best_epoch, best_state, stall = np.inf, 0, None, 0
        for epoch in range(params["max_epochs"]):
            order = train_idx[torch.randperm(n_train, generator=generator).to(device)]
            total = 0.0
            for start in range(0, n_train, batch_size):
                idx = order[start : start + batch_size]
                optimizer.zero_grad()
                loss = batch_loss(idx, True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * idx.numel()
            loss_curve.append(total / n_train)
            if not np.isfinite(loss_curve[-1]):
                raise FloatingPointError(
                    f"The local gate's loss became non-finite at epoch {epoch}; "
                    "lower local_params['learning_rate']."
                )
            if early:
                with torch.no_grad():
                    score = float(batch_loss(val_idx, False))
                val_scores.append(score)
                if score < best - 1e-7:
                    best, best_epoch, stall = score, epoch, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    stall += 1
                    if stall >= params["n_iter_no_change"]:
                        break
            else:
                best_epoch = epoch
        if best_state is not None:
            module.load_state_dict(best_state)

    gate.module_ = module.cpu().eval()
    gate.x_mean_, gate.x_scale_ = x_mean, x_scale
    gate.device_ = device
    gate.n_iter_ = len(loss_curve)
    gate.best_epoch_ = best_epoch
    gate.loss_curve_ = loss_curve
    gate.validation_scores_ = val_scores if early else None
    return gate
