"""scikit-learn estimators around a torch module, with reweighting and samplers."""

import contextlib
import copy
import sys
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skreweight.torch._base import (
    _fork_devices,
    _resolve_device,
    _seed_from,
)
from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    validate_data,
)

__all__ = ["TorchClassifier", "TorchRegressor"]

_PREDICT_CHUNK = 8192


def _build_mlp(n_features, n_outputs, hidden_layer_sizes):
    """A ReLU multi-layer perceptron ``n_features -> hidden... -> n_outputs``."""
    sizes = [int(n_features), *(int(h) for h in hidden_layer_sizes)]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-1], int(n_outputs)))
    return torch.nn.Sequential(*layers)


@contextlib.contextmanager
def _deterministic_algorithms(enabled, device):
    """Turn on deterministic algorithms inside the block, restoring the flags."""
    if not enabled:
        yield
        return
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    if device.type == "cuda":
        import os

        if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in (":4096:8", ":16:8"):
            warnings.warn(
                "deterministic=True on CUDA: set CUBLAS_WORKSPACE_CONFIG=:4096:8 "
                "before CUDA is initialised for bit-reproducible matrix products.",
                UserWarning,
                stacklevel=4,
            )
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark = saved[2]
        torch.backends.cudnn.deterministic = saved[3]


@contextlib.contextmanager
def _torch_threads(num_threads):
    """Use ``num_threads`` intra-op CPU threads inside the block."""
    if num_threads is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


class _BaseTorchEstimator(BaseEstimator):
    """Training loop shared by :class:`TorchClassifier` and :class:`TorchRegressor`."""

    _parameter_constraints: dict = {
        "module": [None, callable],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "criterion": [None, callable],
        "optimizer": [StrOptions({"adamw", "sgd", "lbfgs"}), callable],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "reweighting": [None, HasMethods(["__call__", "reset"])],
        "sampler": [None, HasMethods(["reset", "set_epoch"])],
        "device": [str, torch.device],
        "precision": [StrOptions({"32", "bf16-mixed", "16-mixed"})],
        "deterministic": ["boolean"],
        "num_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _task = None

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(100,),
        criterion=None,
        optimizer="adamw",
        learning_rate=1e-3,
        weight_decay=0.0,
        max_epochs=50,
        batch_size=256,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        reweighting=None,
        sampler=None,
        device="auto",
        precision="32",
        deterministic=False,
        num_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.criterion = criterion
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.reweighting = reweighting
        self.sampler = sampler
        self.device = device
        self.precision = precision
        self.deterministic = deterministic
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    def _validate_inputs(self, X, y, sample_weight, groups, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float32, np.float64],
            multi_output=self._task == "regression",
            y_numeric=self._task == "regression",
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not np.any(sample_weight > 0):
            raise ValueError(
                "sample_weight is zero for every row; at least one row needs a "
                "positive weight."
            )
        if groups is not None:
            groups = column_or_1d(groups)
            if groups.shape[0] != X.shape[0]:
                raise ValueError(
                    f"groups has {groups.shape[0]} entries but X has {X.shape[0]} "
                    "rows; give one group label per row."
                )
            _, groups = np.unique(groups, return_inverse=True)
        return X, y, sample_weight, groups

    def _check_runtime_params(self, device):
        if self.precision == "16-mixed" and device.type != "cuda":
            raise ValueError(
                "precision='16-mixed' needs a CUDA device; on "
                f"{device.type!r} use precision='bf16-mixed' or '32'."
            )
        if self.optimizer == "lbfgs" and self.weight_decay > 0:
            raise ValueError(
                "weight_decay is not supported with optimizer='lbfgs'; set "
                "weight_decay=0 or use optimizer='adamw'."
            )
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if self.module is None and (
            sizes.ndim != 1 or not np.all(sizes.astype(np.int64) == sizes)
        ):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive ints; got "
                f"{self.hidden_layer_sizes!r}."
            )
        if self.module is None and np.any(sizes < 1):
            raise ValueError(
                "hidden_layer_sizes must hold positive ints; got "
                f"{self.hidden_layer_sizes!r}."
            )

    # ---------------------------------------------------------------- helpers
    def _build_module(self, n_features, n_outputs):
        if self.module is None:
            sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes)).tolist()
            module = _build_mlp(n_features, n_outputs, sizes)
        elif isinstance(self.module, torch.nn.Module):
            module = copy.deepcopy(self.module)
        else:
            module = self.module(n_features, n_outputs)
            if not isinstance(module, torch.nn.Module):
                raise TypeError(
                    "module must be a torch.nn.Module or a callable "
                    "(n_features, n_outputs) -> torch.nn.Module; the callable "
                    f"returned {type(module).__name__}."
                )
        return module.to(self.device_)

    def _build_optimizer(self):
        params = self.module_.parameters()
        lr = float(self.learning_rate)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=self.weight_decay)
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                params, lr=lr, momentum=0.9, weight_decay=self.weight_decay
            )
        if self.optimizer == "lbfgs":
            return torch.optim.LBFGS(params, lr=lr, line_search_fn="strong_wolfe")
        return self.optimizer(params, lr=lr, weight_decay=self.weight_decay)

    def _autocast(self):
        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16-mixed" else torch.float16
        return torch.autocast(device_type=self.device_.type, dtype=dtype)

    def _forward(self, X):
        with self._autocast():
            out = self.module_(X)
        return out.float()

    def _per_sample_loss(self, outputs, targets):
        if self.criterion is None:
            losses = self._default_loss(outputs, targets)
        else:
            losses = self.criterion(outputs, targets, reduction="none")
        if losses.ndim == 0 or losses.shape[0] != outputs.shape[0]:
            raise ValueError(
                "criterion must return one loss per sample when called with "
                "reduction='none'; got a tensor of shape "
                f"{tuple(losses.shape)} for a batch of {outputs.shape[0]}."
            )
        if losses.ndim > 1:
            losses = losses.reshape(losses.shape[0], -1).mean(dim=1)
        return losses.float()

    def _check_output_shape(self, X, n_outputs):
        n_rows = min(X.shape[0], 2)
        was_training = self.module_.training
        self.module_.eval()
        with torch.no_grad():
            out = self.module_(X[:n_rows])
        self.module_.train(was_training)
        expected = (n_rows, n_outputs)
        shape = tuple(out.shape)
        if shape != expected and not (
            self._task == "regression" and n_outputs == 1 and shape == (n_rows,)
        ):
            what = (
                "logits, one column per class of y"
                if self._task == "classification"
                else "outputs, one column per target of y"
            )
            raise ValueError(
                f"The module returns outputs of shape {shape} for {n_rows} rows, "
                f"but {type(self).__name__} needs {what}: shape {expected}. Build "
                f"the module for n_outputs={n_outputs}."
            )

    def _requested(self, strategy, outputs, targets, indices, groups, inputs):
        requires = getattr(strategy, "requires", ())
        available = {
            "logits": outputs.detach() if "logits" in requires else None,
            "targets": targets,
            "indices": indices,
            "groups": groups,
            "inputs": inputs,
            "module": self.module_,
        }
        return {name: available[name] for name in requires}

    # --------------------------------------------------------------- training
    def _start(self, X, y, sample_weight, groups, n_outputs, seed):
        """Build module, optimiser, strategies and samplers (first call)."""
        torch.manual_seed(seed)
        self.module_ = self._build_module(X.shape[1], n_outputs)
        self._check_output_shape(X, n_outputs)
        self.module_.train()
        self._optimizer = self._build_optimizer()
        self._scaler = (
            torch.amp.GradScaler("cuda") if self.precision == "16-mixed" else None
        )
        self._generator = torch.Generator().manual_seed(seed + 1)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.history_ = []
        self.best_loss_ = np.inf
        self._no_improvement = 0
        n_samples = X.shape[0]
        self.reweighting_ = None
        if self.reweighting is not None:
            self.reweighting_ = clone(self.reweighting, safe=False)
            self.reweighting_.reset(
                n_samples=n_samples,
                targets=y if self._task == "classification" else None,
                groups=groups,
                sample_weight=sample_weight,
                n_classes=n_outputs if self._task == "classification" else None,
                n_epochs=self.max_epochs,
                device=self.device_,
                task=self._task,
            )
            if self._task == "classification" and self.criterion is None:
                self.reweighting_._cross_entropy_losses = True
        self.sampler_ = None
        if self.sampler is not None:
            self.sampler_ = clone(self.sampler, safe=False)
            self.sampler_.reset(
                n_samples=n_samples,
                groups=None if groups is None else groups.cpu(),
                generator=self._generator,
                n_epochs=self.max_epochs,
            )

    def _epoch_order(self, epoch, n_samples):
        if self.sampler_ is None:
            return torch.randperm(n_samples, generator=self._generator)
        self.sampler_.set_epoch(epoch)
        indices = getattr(self.sampler_, "indices", None)
        if callable(indices):
            return torch.as_tensor(indices(), dtype=torch.long).cpu()
        return torch.as_tensor(list(iter(self.sampler_)), dtype=torch.long)

    def _run_epoch(self, X, y, s, groups, normaliser, epoch):
        order = self._epoch_order(epoch, X.shape[0])
        batch_size = self.batch_size or max(order.numel(), 1)
        total = torch.zeros((), device=self.device_)
        rows = 0
        for idx in order.split(batch_size):
            if idx.numel() == 0:
                continue
            idx = idx.to(self.device_)
            g_b = None if groups is None else groups[idx]
            loss = self._step(X[idx], y[idx], s[idx], idx, g_b, normaliser, epoch)
            total += loss.detach() * idx.numel()
            rows += idx.numel()
            self.t_ += 1
        return total, rows

    def _step(self, xb, yb, sb, idx, gb, normaliser, epoch):
        strategy = self.reweighting_
        batch_weights = getattr(self.sampler_, "batch_weights", None)
        denominator = xb.shape[0] * normaliser

        def weights_for(outputs, losses):
            weights = sb
            if strategy is not None:
                requested = self._requested(strategy, outputs, yb, idx, gb, xb)
                dynamic = strategy(
                    losses.detach(), step=self.t_, epoch=epoch, **requested
                )
                if dynamic.ndim != 1:
                    dynamic = dynamic.reshape(-1)
                weights = weights * dynamic
            if batch_weights is not None:
                weights = weights * batch_weights(idx).to(weights.dtype)
            return weights

        if self.optimizer == "lbfgs":
            cache = {}

            def closure():
                self._optimizer.zero_grad()
                outputs = self._forward(xb)
                losses = self._per_sample_loss(outputs, yb)
                if "weights" not in cache:
                    cache["weights"] = weights_for(outputs, losses)
                    cache["losses"] = losses.detach()
                loss = (cache["weights"] * losses).sum() / denominator
                loss.backward()
                return loss

            loss = self._optimizer.step(closure)
            losses = cache["losses"]
        else:
            self._optimizer.zero_grad(set_to_none=True)
            outputs = self._forward(xb)
            losses = self._per_sample_loss(outputs, yb)
            loss = (weights_for(outputs, losses) * losses).sum() / denominator
            if self._scaler is not None:
                self._scaler.scale(loss).backward()
                self._scaler.step(self._optimizer)
                self._scaler.update()
            else:
                loss.backward()
                self._optimizer.step()
        update = getattr(self.sampler_, "update", None)
        if update is not None:
            update(idx, losses.detach())
        return loss

    def _mean_loss(self, X, y, s):
        self.module_.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device_)
        with torch.no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                stop = start + _PREDICT_CHUNK
                losses = self._per_sample_loss(
                    self._forward(X[start:stop]), y[start:stop]
                )
                total += (s[start:stop].double() * losses.double()).sum()
        self.module_.train()
        return (total / s.double().sum()).item()

    def _train(self, X, y, s, groups, n_epochs, validation=None):
        normaliser = float(s.double().mean().item())
        best_state = None
        for _ in range(n_epochs):
            epoch = self.n_iter_
            tic = time.perf_counter()
            total, rows = self._run_epoch(X, y, s, groups, normaliser, epoch)
            epoch_loss = (total / max(rows, 1)).item()
            if not np.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"The training loss became {epoch_loss} at epoch {epoch}; lower "
                    "learning_rate, check the data for extreme values, or use "
                    "precision='32'."
                )
            self.n_iter_ += 1
            self.loss_curve_.append(epoch_loss)
            record = {"epoch": epoch, "loss": epoch_loss, "n_rows": rows}
            on_epoch_end = getattr(self.reweighting_, "on_epoch_end", None)
            if on_epoch_end is not None:
                stats = on_epoch_end(epoch)
                if stats:
                    record.update(
                        {f"weight_{k}": v for k, v in stats.items() if k != "epoch"}
                    )
            if validation is not None:
                val_loss = self._mean_loss(*validation)
                record["val_loss"] = val_loss
                self.validation_loss_curve_.append(val_loss)
                current = val_loss
            else:
                current = epoch_loss
            self.history_.append(record)
            stop = False
            if self.tol is not None:
                if current < self.best_loss_ - self.tol:
                    self._no_improvement = 0
                else:
                    self._no_improvement += 1
                stop = self._no_improvement >= self.n_iter_no_change
            if current < self.best_loss_:
                self.best_loss_ = current
                if validation is not None:
                    best_state = {
                        k: v.detach().clone()
                        for k, v in self.module_.state_dict().items()
                    }
            if self.verbose:
                extra = "" if validation is None else f", val_loss {current:.5f}"
                print(
                    f"[{type(self).__name__}] epoch {epoch + 1}/{self.max_epochs}: "
                    f"loss {epoch_loss:.5f}{extra} ({time.perf_counter() - tic:.2f}s)",
                    file=sys.stdout,
                    flush=True,
                )
            if stop:
                break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()

    def _to_tensors(self, X, y, sample_weight, groups):
        device = self.device_
        X_t = torch.tensor(X, dtype=torch.float32, device=device)
        if self._task == "classification":
            y_t = torch.tensor(y, dtype=torch.long, device=device)
        else:
            y_t = torch.tensor(
                np.asarray(y, dtype=np.float32).reshape(y.shape[0], -1), device=device
            )
        s_t = torch.tensor(sample_weight, dtype=torch.float32, device=device)
        g_t = None
        if groups is not None:
            g_t = torch.tensor(groups, dtype=torch.long, device=device)
        return X_t, y_t, s_t, g_t

    def _fit(self, X, y, sample_weight, groups, *, partial, classes=None):
        first_call = not partial or not hasattr(self, "module_")
        X, y, sample_weight, groups = self._validate_inputs(
            X, y, sample_weight, groups, reset=first_call
        )
        y, n_outputs = self._encode_targets(y, first_call, classes, sample_weight)
        if groups is None and self._task == "classification":
            groups = y
        if first_call:
            device = _resolve_device(self.device)
            self._check_runtime_params(device)
            self.device_ = device
            seed = _seed_from(check_random_state(self.random_state))
        else:
            device = self.device_
            seed = int(torch.randint(2**31 - 1, (1,), generator=self._generator))
        validation = None
        n = X.shape[0]
        if first_call:
            self.validation_loss_curve_ = [] if self.early_stopping else None
        if self.early_stopping and not partial:
            if n < 2:
                raise ValueError(
                    "early_stopping=True needs at least 2 rows to hold out a "
                    f"validation set; got {n}."
                )
            stratify = y if self._task == "classification" else None
            try:
                train, val = train_test_split(
                    np.arange(n),
                    test_size=self.validation_fraction,
                    random_state=seed,
                    stratify=stratify,
                )
            except ValueError:
                train, val = train_test_split(
                    np.arange(n), test_size=self.validation_fraction, random_state=seed
                )
            validation = self._to_tensors(X[val], y[val], sample_weight[val], None)[:3]
            X, y, sample_weight = X[train], y[train], sample_weight[train]
            groups = None if groups is None else groups[train]
            if not np.any(sample_weight > 0):
                raise ValueError(
                    "sample_weight is zero for every training row left after the "
                    "validation split; use early_stopping=False or other weights."
                )
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.random.fork_rng(devices=_fork_devices(device)))
            stack.enter_context(_deterministic_algorithms(self.deterministic, device))
            stack.enter_context(_torch_threads(self.num_threads))
            torch.manual_seed(seed)
            X_t, y_t, s_t, g_t = self._to_tensors(X, y, sample_weight, groups)
            if first_call:
                self._start(X_t, y_t, s_t, g_t, n_outputs, seed)
            else:
                self.module_.train()
                if self.sampler_ is not None:  # new rows: resample from them
                    self.sampler_.reset(
                        n_samples=X_t.shape[0],
                        groups=None if g_t is None else g_t.cpu(),
                        generator=self._generator,
                        n_epochs=self.max_epochs,
                    )
            n_epochs = 1 if partial else self.max_epochs
            self._train(X_t, y_t, s_t, g_t, n_epochs, validation)
        return self

    # ------------------------------------------------------------- prediction
    def _predict_outputs(self, X):
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        X_t = torch.tensor(X, dtype=torch.float32, device=self.device_)
        self.module_.eval()
        chunks = []
        with torch.no_grad(), _torch_threads(self.num_threads):
            for start in range(0, X_t.shape[0], _PREDICT_CHUNK):
                chunks.append(self._forward(X_t[start : start + _PREDICT_CHUNK]).cpu())
        out = torch.cat(chunks) if chunks else torch.empty(0)
        return out.double().numpy()

    # ---------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        device = state.get("device_")
        if device is not None and device.type != "cpu" and "module_" in state:
            state = dict(state)
            state["module_"] = copy.deepcopy(state["module_"]).to("cpu")
            state.pop("_optimizer", None)
            state.pop("_scaler", None)
            state["_saved_from_device"] = str(device)
        return state

    def __setstate__(self, state):
        saved = state.pop("_saved_from_device", None)
        super().__setstate__(state)
        if saved is not None:
            try:
                self.device_ = _resolve_device(saved)
            except ValueError:
                warnings.warn(
                    f"{type(self).__name__} was fitted on {saved!r}, which is not "
                    "available here; it is loaded on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )
                self.device_ = torch.device("cpu")
            self.module_.to(self.device_)
            self._optimizer = self._build_optimizer()
            self._scaler = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    def _expected_failed_checks(self):
        reason = (
            "stochastic mini-batch training in float32: weighting a row by an "
            "integer equals repeating it only in expectation (and, in full batch, "
            "up to float32 rounding amplified by the optimiser); the exact "
            "full-batch equivalence is tested in tests/test_torch.py"
        )
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
        }


_COMMON_PARAMS = """
    module : torch.nn.Module or callable, default=None
        The network. ``None`` builds a ReLU multi-layer perceptron with
        ``hidden_layer_sizes``; a callable is called as
        ``module(n_features, n_outputs)`` and must return a
        :class:`torch.nn.Module` (use a picklable class or function, not a
        lambda); a module instance is deep-copied into ``module_``, so refits
        start from the same initial parameters.

    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden layer widths of the default network; ignored when ``module``
        is given.

    criterion : callable, default=None
        Per-sample loss, called as ``criterion(outputs, targets,
        reduction="none")`` (for example :func:`torch.nn.functional.huber_loss`
        or :func:`~skreweight.torch.focal_loss`). ``None`` uses %(criterion)s.

    optimizer : {"adamw", "sgd", "lbfgs"} or callable, default="adamw"
        ``"sgd"`` uses momentum 0.9; ``"lbfgs"`` uses a strong-Wolfe line
        search (best with ``batch_size=None`` and ``learning_rate=1``); a
        callable is called as ``optimizer(params, lr=learning_rate,
        weight_decay=weight_decay)``, e.g. ``torch.optim.Adam``.

    learning_rate : float, default=1e-3
        Step size of the optimiser.

    weight_decay : float, default=0.0
        Decoupled (AdamW) or L2 (SGD) weight decay.

    max_epochs : int, default=50
        Maximum number of passes over the data (one pass per ``partial_fit``).

    batch_size : int or None, default=256
        Rows per optimisation step; ``None`` uses the full batch.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for
        classifiers), stop when the weighted validation loss has not improved
        by ``tol`` for ``n_iter_no_change`` epochs and restore the best
        parameters. Ignored by ``partial_fit``.

    validation_fraction : float, default=0.1
        Fraction of the rows held out when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.

    tol : float or None, default=1e-4
        Minimal improvement of the (validation or training) loss; ``None``
        always runs ``max_epochs`` epochs.

    reweighting : object, default=None
        Dynamic reweighting strategy, e.g.
        :class:`~skreweight.torch.LossBasedReweighting`. It is cloned into
        ``reweighting_``; the user's object is not modified.

    sampler : object, default=None
        Sampler choosing the rows of each epoch, e.g.
        :class:`~skreweight.torch.TemperatureSampler`. ``None`` shuffles all
        rows every epoch. It is cloned into ``sampler_``.

    device : str or torch.device, default="auto"
        ``"auto"`` uses the available accelerator (CUDA, MPS...) and the CPU
        otherwise; ``"cpu"``, ``"cuda"`` or ``"cuda:1"`` force a device (an
        unavailable one raises a ``ValueError``).

    precision : {"32", "bf16-mixed", "16-mixed"}, default="32"
        Autocast of the forward pass; ``"16-mixed"`` (with a gradient scaler)
        needs CUDA. Losses, weights and parameters stay in float32.

    deterministic : bool, default=False
        Use deterministic torch algorithms during ``fit`` (flags are restored
        afterwards). CPU runs with a fixed ``random_state`` are already
        bit-reproducible.

    num_threads : int, default=None
        Intra-op CPU threads torch uses during ``fit`` and ``predict`` (the
        process-wide setting is restored afterwards); ``None`` keeps torch's
        setting. ``1`` is fastest for small networks on a busy machine.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, dropout and the batch order. The global
        torch and NumPy random states are left unchanged.

    verbose : int, default=0
        Print one progress line per epoch when positive.
"""

_COMMON_ATTRIBUTES = """

    module_ : torch.nn.Module
        The trained network (in eval mode).

    device_ : torch.device
        Device the network and the data were placed on.

    n_iter_ : int
        Number of epochs run.

    t_ : int
        Number of optimisation steps taken.

    loss_curve_ : list of float
        Mean weighted training loss of each epoch.

    validation_loss_curve_ : list of float or None
        Weighted validation loss of each epoch (``early_stopping=True``).

    best_loss_ : float
        Best (validation or training) loss seen.

    history_ : list of dict
        Per-epoch record: ``loss``, ``n_rows``, ``val_loss`` and, with a
        strategy, ``weight_mean``, ``weight_min``, ``weight_max`` and
        ``weight_ess`` (effective sample size fraction of the dynamic weights).

    reweighting_ : object or None
        Fitted clone of ``reweighting``.

    sampler_ : object or None
        Fitted clone of ``sampler``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.
"""

_LOSS_NOTES = """
    Each step minimises ``L_B = sum_B s_i d_i l_i / (|B| s_bar)`` where ``s``
    is ``sample_weight`` (``s_bar`` its mean over the training rows), ``d``
    the detached weights of ``reweighting`` (times the sampler's
    ``batch_weights``) and ``l`` the per-sample loss. Every batch is then an
    unbiased estimate of ``sum_i s_i l_i / sum_i s_i``: an integer weight
    equals repeating the row, in expectation under mini-batches and exactly
    in full batch. ``sample_weight=None`` runs the same code with ``s = 1``,
    bit-identical to unit weights.
"""


class TorchClassifier(ClassifierMixin, _BaseTorchEstimator):
    """Neural-network classifier trained with PyTorch, with sample weights.

    A scikit-learn classifier around a torch module (a ReLU MLP by default,
    or your own): it minimises the softmax cross-entropy of ``n_classes``
    logits (also for two classes), honours ``sample_weight``, and accepts a
    dynamic per-sample ``reweighting`` strategy and a ``sampler`` choosing
    the rows of each epoch. It works with ``clone``, ``Pipeline``,
    ``GridSearchCV`` (e.g. over ``reweighting__r``) and pickling.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------%(params)s
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.%(attributes)s
    See Also
    --------
    TorchRegressor : The regressor counterpart.
    LossBasedReweighting : Dynamic loss-based sample reweighting.
    sklearn.neural_network.MLPClassifier : The MLP of scikit-learn (no GPU, no
        dynamic reweighting).

    Notes
    -----%(notes)s
    ``groups`` passed to ``fit`` (default: the class labels) reach strategies
    and samplers that request them.

    References
    ----------
    .. [1] A. Paszke et al., "PyTorch: An Imperative Style, High-Performance
       Deep Learning Library", NeurIPS 2019.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.torch import LossBasedReweighting, TorchClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = TorchClassifier(
    ...     hidden_layer_sizes=(16,), learning_rate=1e-2, max_epochs=20,
    ...     batch_size=32, reweighting=LossBasedReweighting(r=1.0),
    ...     device="cpu", random_state=0,
    ... ).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> clf.score(X, y) > 0.9
    True
    """

    _task = "classification"

    def _default_loss(self, outputs, targets):
        return torch.nn.functional.cross_entropy(outputs, targets, reduction="none")

    def _encode_targets(self, y, first_call, classes, sample_weight):
        check_classification_targets(y)
        if first_call:
            if classes is not None:
                self.classes_ = np.unique(np.asarray(classes))
            else:
                self.classes_ = np.unique(y)
        elif classes is not None and not np.array_equal(
            np.unique(np.asarray(classes)), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the classes "
                f"of the first partial_fit call, {self.classes_.tolist()}."
            )
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{self.classes_.tolist()}."
            )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y holds labels {unseen.tolist()} that are not among the classes "
                f"{self.classes_.tolist()}; pass every label in classes= on the "
                "first partial_fit call."
            )
        codes = np.searchsorted(self.classes_, y)
        if first_call and np.unique(codes[sample_weight > 0]).size < 2:
            raise ValueError(
                "Only one class has a positive sample_weight; a classifier needs "
                "at least 2 classes with positive weight."
            )
        return codes, self.classes_.size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Train the network from scratch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (converted to float32).

        y : array-like of shape (n_samples,)
            Class labels.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative static weights; ``None`` means ones.

        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware strategies and samplers; ``None``
            uses ``y``.

        Returns
        -------
        self : object
            Fitted classifier.
        """
        return self._fit(X, y, sample_weight, groups, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None, *, groups=None):
        """Train for one epoch on ``(X, y)``, continuing from the current state.

        The first call builds the network and needs ``classes``; later calls
        keep the optimiser state. ``early_stopping`` is ignored. Reweighting
        strategies are reset with the data of the first call (class and group
        sizes); samplers are reset with the rows of every call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Class labels.

        classes : array-like of shape (n_classes,), default=None
            Every class label; required on the first call.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative static weights (normalised by their mean in this
            call).

        groups : array-like of shape (n_samples,), default=None
            Group labels; ``None`` uses ``y``.

        Returns
        -------
        self : object
            Updated classifier.
        """
        if not hasattr(self, "module_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit, e.g. "
                "partial_fit(X, y, classes=np.unique(y_all))."
            )
        return self._fit(X, y, sample_weight, groups, partial=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits) of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in float64, each row summing to 1, columns in the
            order of ``classes_``.
        """
        logits = self._predict_outputs(X)
        logits -= logits.max(axis=1, keepdims=True) if logits.size else 0.0
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in float64.
        """
        logits = self._predict_outputs(X)
        if logits.size:
            logits -= logits.max(axis=1, keepdims=True)
            logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return logits

    def predict(self, X):
        """Predict the class of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class with the largest logit.
        """
        logits = self._predict_outputs(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


class TorchRegressor(RegressorMixin, _BaseTorchEstimator):
    """Neural-network regressor trained with PyTorch, with sample weights.

    A scikit-learn regressor around a torch module (a ReLU MLP by default, or
    your own): it minimises the squared error by default (mean over outputs
    for multi-output ``y``), honours ``sample_weight``, and accepts a dynamic
    per-sample ``reweighting`` strategy and a ``sampler`` choosing the rows of
    each epoch.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------%(params)s
    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.%(attributes)s
    See Also
    --------
    TorchClassifier : The classifier counterpart.
    GHMReweighting : Gradient harmonizing weights (also for regression).
    sklearn.neural_network.MLPRegressor : The MLP of scikit-learn.

    Notes
    -----%(notes)s
    Classification-only strategies (focal, class-balanced) raise a
    ``ValueError``; group-aware ones need ``fit(..., groups=...)``.

    References
    ----------
    .. [1] A. Paszke et al., "PyTorch: An Imperative Style, High-Performance
       Deep Learning Library", NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import make_regression
    >>> from skreweight.torch import TorchRegressor
    >>> X, y = make_regression(n_samples=100, n_features=3, random_state=0)
    >>> reg = TorchRegressor(
    ...     module=torch.nn.Linear(3, 1), optimizer="lbfgs", learning_rate=1.0,
    ...     batch_size=None, max_epochs=20, device="cpu", random_state=0,
    ... ).fit(X, y)
    >>> round(reg.score(X, y), 4)
    1.0
    """

    _task = "regression"

    def _encode_targets(self, y, first_call, classes, sample_weight):
        y = np.asarray(y)
        if first_call:
            self._y_ndim = y.ndim
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        else:
            n_outputs = 1 if y.ndim == 1 else y.shape[1]
            if n_outputs != self.n_outputs_:
                raise ValueError(
                    f"y has {n_outputs} target(s) but the regressor was fitted on "
                    f"{self.n_outputs_}."
                )
        return y, self.n_outputs_

    def _default_loss(self, outputs, targets):
        outputs = outputs.reshape(targets.shape)
        return torch.nn.functional.mse_loss(outputs, targets, reduction="none")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Train the network from scratch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (converted to float32).

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative static weights; ``None`` means ones.

        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware strategies and samplers.

        Returns
        -------
        self : object
            Fitted regressor.
        """
        return self._fit(X, y, sample_weight, groups, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, *, groups=None):
        """Train for one epoch on ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative static weights (normalised by their mean in this
            call).

        groups : array-like of shape (n_samples,), default=None
            Group labels.

        Returns
        -------
        self : object
            Updated regressor.
        """
        return self._fit(X, y, sample_weight, groups, partial=True)

    def predict(self, X):
        """Predict the targets of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions in float64, 1-D when ``y`` was 1-D.
        """
        out = self._predict_outputs(X)
        out = out.reshape(out.shape[0], -1)
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


def _fill_docstring(cls, criterion):
    cls.__doc__ = cls.__doc__ % {
        "params": _COMMON_PARAMS % {"criterion": criterion},
        "attributes": _COMMON_ATTRIBUTES,
        "notes": _LOSS_NOTES,
    }


_fill_docstring(TorchClassifier, "the softmax cross-entropy")
_fill_docstring(TorchRegressor, "the squared error, averaged over outputs")
