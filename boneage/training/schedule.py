"""Learning-rate schedules, and fitting a run's length to a time budget."""

from __future__ import annotations

import math
import warnings

import torch


def one_cycle(optimiser: torch.optim.Optimizer, max_lr: float, total_steps: int):
    """One-cycle schedule (10% warm-up, cosine down); still valid for runs of a few steps.

    ``OneCycleLR`` divides by the length of each phase and fails when the warm-up is exactly one
    step long (e.g. 10 steps with 10% warm-up): short runs get a warm-up of at least two steps,
    and runs under four steps a constant learning rate.
    """
    if total_steps < 4:
        for group in optimiser.param_groups:
            group["lr"] = group["initial_lr"] = max_lr  # LambdaLR scales initial_lr when one is set
        return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=max_lr, total_steps=total_steps, pct_start=max(0.1, 2.0 / total_steps)
    )


def epochs_that_fit(budget_s: float, elapsed_s: float, epoch_s: float, done: int, planned: int) -> int:
    """How many epochs in all fit a time budget, given the time already spent and one epoch's time.

    At least the epochs already done and never more than planned: a budget only shortens a run.
    """
    more = math.floor(max(0.0, budget_s - elapsed_s) / max(epoch_s, 1e-9))
    return max(done, min(planned, done + more))


def steady_epoch_s(step_starts: list[float], steps_ended: float, val_s: float) -> float:
    """The time of a later epoch, judged from the first: its steps after the first fifth, plus validation.

    The first steps of a GPU run carry one-off costs (kernel selection, loader workers starting,
    the cache paging in): on an H100 the first epoch took 32 s and the later ones 9 s.
    """
    steps = len(step_starts)
    skip = steps // 5
    if steps < 5:
        return steps_ended - (step_starts[0] if step_starts else steps_ended) + val_s
    return (steps_ended - step_starts[skip]) / (steps - skip) * steps + val_s


def refit_schedule(optimiser: torch.optim.Optimizer, max_lr: float, total_steps: int, steps_done: int):
    """A one-cycle schedule over ``total_steps``, already advanced by ``steps_done`` steps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "scheduler.step() before optimizer.step()"
        scheduler = one_cycle(optimiser, max_lr, total_steps)
        for _ in range(steps_done):
            scheduler.step()
    return scheduler
