"""Stochastic (paper-mode) solver of KernelBalancing: minibatch Adam on a penalty."""

import numpy as np
from scipy.special import logsumexp


def hinge_per_centre(delta, tol):
    """``sum_j max(|delta_j| - tol, 0)``: one hinge per centre.

    The official code of Li et al. (2024) puts one hinge on the *sum* of the
    imbalances, so that imbalances of opposite signs cancel; here every
    centre has its own.
    """
    import torch

    return torch.clamp(delta.abs() - tol, min=0.0).sum()


def fit_sgd(
    lin,
    sections,
    section_sd,
    q,
    residual,
    rule,
    n_centers,
    imbalance_tol,
    balance_penalty,
    n_steps,
    batch_size,
    learning_rate,
    rng,
    device,
):
    """Weights ``p ∝ q exp(C theta)`` trained by minibatch Adam.

    ``C = [lin, sections / section_sd]`` holds the standardised covariates
    (centred at the target means) and the standardised kernel sections at
    every candidate. Each step draws ``batch_size`` rows, normalises their
    weights ``p_B`` and minimises

    ``KL(p_B || q_B) + balance_penalty * (sum_j [|Delta_j| - tol]_+
    + sum_k [|mean_k| - tol]_+)``

    where ``Delta_j = p_B^T sections_Bj`` is the witness function at the
    ``n_centers`` centres chosen for this batch (``rule``: at random, the
    largest ``|Delta|``, or the largest residual-weighted witness
    ``|sum_B p_i r_i sections_ij|``) and ``mean_k`` the covariate means'
    imbalances. The KL term is ``mean_B(w log w)`` of the paper for uniform
    ``q``. Returns ``(p, theta)`` with ``p`` normalised over all rows.
    """
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "KernelBalancing(solver='sgd') needs PyTorch: pip install "
            "'skreweight[torch]', or use solver='dual'."
        ) from exc
    if device is None:
        device = torch.device("cpu")
    else:
        from skreweight.torch._base import _resolve_device

        device = _resolve_device(device)
    dtype = torch.float64 if device.type == "cpu" else torch.float32

    def tensor(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

    n, n_lin = lin.shape
    n_cand = sections.shape[1]
    features = np.hstack([lin, sections / section_sd])
    C, S, L, log_q = tensor(features), tensor(sections), tensor(lin), tensor(np.log(q))
    known = None
    if residual is not None:
        values, known_mask = residual
        R = tensor(np.where(known_mask, values, 0.0))
        known = tensor(known_mask.astype(float))
    theta = torch.zeros(features.shape[1], dtype=dtype, device=device)
    theta.requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=learning_rate)
    size = min(batch_size, n)
    n_pick = min(n_centers, n_cand)
    # Small steps: one CPU thread (torch's default pool ran several times
    # slower on a busy 2-core machine); the setting is restored afterwards.
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        for _ in range(n_steps):
            batch = torch.as_tensor(rng.choice(n, size, replace=False), device=device)
            log_qb = log_q[batch]
            log_p = torch.log_softmax(log_qb + C[batch] @ theta, dim=0)
            p = log_p.exp()
            kl = (p * (log_p - torch.log_softmax(log_qb, dim=0))).sum()
            delta = p @ S[batch]
            with torch.no_grad():
                if rule == "random":
                    centres = torch.as_tensor(
                        rng.choice(n_cand, n_pick, replace=False), device=device
                    )
                else:
                    if rule == "adaptive" and known[batch].sum() > 0:
                        weight = p * known[batch]
                        score = (weight * R[batch]) @ S[batch] / weight.sum()
                    else:  # "worst", or no known residual in this batch
                        score = delta
                    centres = torch.topk(score.abs(), n_pick).indices
            penalty = hinge_per_centre(delta[centres], imbalance_tol)
            if n_lin:
                penalty = penalty + hinge_per_centre(p @ L[batch], imbalance_tol)
            loss = kl + balance_penalty * penalty
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    theta = theta.detach().cpu().double().numpy()
    eta = np.log(q) + features @ theta
    p = np.exp(eta - logsumexp(eta))
    return p, theta
