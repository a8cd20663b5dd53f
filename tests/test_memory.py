"""core.memory: glibc keeps large freed blocks for reuse; the opt-out is honoured."""

from __future__ import annotations

import pytest
import torch

from core import memory


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(memory, "_applied", False)
    monkeypatch.delenv(memory.OPT_OUT_ENV, raising=False)


def test_opt_out_keeps_the_defaults(fresh_state, monkeypatch):
    monkeypatch.setenv(memory.OPT_OUT_ENV, "1")
    assert memory.reuse_freed_cpu_memory() is False
    assert memory._applied is False


@pytest.mark.skipif(memory._glibc() is None, reason="mallopt tuning applies to glibc (Linux) only")
def test_applies_on_glibc_and_tensors_are_unchanged(fresh_state):
    torch.manual_seed(0)
    a, b = torch.randn(2, 96, 96), torch.randn(2, 96, 96)
    before = a @ b
    assert memory.reuse_freed_cpu_memory() is True
    assert memory.reuse_freed_cpu_memory() is True  # idempotent
    big = torch.ones(40_000_000)  # 160 MB: above glibc's mmap threshold, now from the heap
    assert big.sum().item() == 40_000_000
    del big
    assert torch.equal(a @ b, before)
