"""Early stopping on validation accuracy, and the learning-rate drops it triggers (the reference's
``EarlyStopping`` and ``Trainer.adjust_learning_rate``).

The reference's loop: after each epoch's validation, a stopper counts epochs whose accuracy is not at
least ``delta`` above the best so far; after ``patience`` such epochs the learning rate is divided by 10
and a fresh stopper starts (with the larger ``delta`` of 0.002); when the divided rate falls below
``min_lr`` training ends. With lr 1e-4 and min_lr 1e-6: two drops (1e-5, 1e-6), the third ends it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The reference passes delta=-0.001 to its first stopper and -0.002 to every one after a drop, and
# counts an epoch as "not better" when ``score < best - delta``, i.e. when it is below best + |delta|.
FIRST_DELTA = 0.001
AFTER_DROP_DELTA = 0.002


@dataclass
class EarlyStopping:
    """Patience counter on a score where higher is better.

    ``step(score)`` returns True when the score counts as an improvement (the reference saves
    ``model_epoch_best.pth`` then); ``early_stop`` turns True after ``patience`` epochs without one.
    """

    patience: int = 5
    delta: float = FIRST_DELTA
    best_score: float | None = None
    counter: int = 0
    early_stop: bool = False

    def step(self, score: float) -> bool:
        if self.best_score is None or score >= self.best_score + self.delta:
            self.best_score = score
            self.counter = 0
            return True
        self.counter += 1
        if self.counter >= self.patience:
            self.early_stop = True
        return False

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def drop_learning_rate(optimizer, min_lr: float = 1e-6) -> bool:
    """Divide every group's lr by 10; False (stop training) when one falls below ``min_lr``."""
    keep_going = True
    for group in optimizer.param_groups:
        group["lr"] /= 10.0
        if group["lr"] < min_lr:
            keep_going = False
    return keep_going
