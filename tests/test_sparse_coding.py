"""Sparse coding: ISTA/FISTA against scikit-learn's Lasso solution, monotone objectives, and the
dictionary learning step (unit-norm atoms, only the dictionary moves, objective goes down)."""

from __future__ import annotations

import pytest
import torch
from sklearn.decomposition import sparse_encode

from lit_gen.losses.sparse_coding import (
    fista,
    ista,
    lipschitz_constant,
    soft_threshold,
    sparse_coding_objective,
)
from lit_gen.models import SparseCoding


def _problem(n=6, dim=20, atoms=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    dictionary = torch.randn(atoms, dim, generator=generator, dtype=torch.float64)
    dictionary /= dictionary.norm(dim=1, keepdim=True)
    x = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    return x, dictionary


def test_soft_threshold_and_lipschitz_constant():
    v = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5])
    torch.testing.assert_close(soft_threshold(v, 0.5), torch.tensor([-1.5, 0.0, 0.0, 0.0, 1.0]))
    _, dictionary = _problem()
    eigenvalues = torch.linalg.eigvalsh(dictionary @ dictionary.T)  # sigma_max^2 = lambda_max(W W^T)
    torch.testing.assert_close(lipschitz_constant(dictionary), 2 * eigenvalues.max())


@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_codes_match_scikit_learn_lasso(solver):
    """Our F(a) = ||x - aW||^2 + lam ||a||_1 is 2 x sklearn's 0.5 ||x - aW||^2 + alpha ||a||_1
    with alpha = lam / 2 (sparse_encode's lasso_cd scaling)."""
    x, dictionary = _problem()
    lam = 0.5
    reference = torch.from_numpy(
        sparse_encode(x.numpy(), dictionary.numpy(), algorithm="lasso_cd", alpha=lam / 2, max_iter=10_000)
    )
    codes = ista(x, dictionary, lam, n_iter=3000) if solver == "ista" else fista(x, dictionary, lam, n_iter=2000)
    torch.testing.assert_close(codes, reference, atol=1e-5, rtol=0)
    assert (codes == 0).any() and (reference == 0).any()  # the solution is sparse, not just small
    ours = sparse_coding_objective(x, codes, dictionary, lam)
    theirs = sparse_coding_objective(x, reference, dictionary, lam)
    assert torch.all(ours <= theirs + 1e-9)


@pytest.mark.parametrize("solver", ["ista", "mfista"])
def test_objective_decreases_monotonically(solver):
    x, dictionary = _problem(n=16, dim=16, atoms=48, seed=1)
    run = ista if solver == "ista" else fista
    _, trace = run(x, dictionary, 0.3, n_iter=300, history=True)  # (iterations + 1, N)
    steps = trace[1:] - trace[:-1]
    assert steps.max() <= 1e-12, f"objective went up by {steps.max()}"
    assert torch.all(trace[-1] < trace[0])


def test_plain_fista_is_faster_but_not_monotone_mfista_is_both():
    x, dictionary = _problem(n=16, dim=16, atoms=48, seed=1)
    lam = 0.3
    _, plain = fista(x, dictionary, lam, n_iter=300, monotone=False, history=True)
    _, slow = ista(x, dictionary, lam, n_iter=50, history=True)
    _, fast = fista(x, dictionary, lam, n_iter=50, history=True)
    assert (plain[1:] - plain[:-1]).max() > 0  # Beck & Teboulle: FISTA is not a descent method
    assert fast[-1].sum() < slow[-1].sum()  # O(1/k^2) vs O(1/k): FISTA is ahead after 50 steps


def test_dictionary_learning_step():
    torch.manual_seed(0)
    model = SparseCoding((1, 4, 4), (0.0, 1.0), num_atoms=24, sparsity_weight=0.1, n_iter=50)
    torch.testing.assert_close(model.dictionary.norm(dim=1), torch.ones(24))
    x = torch.rand(32, 1, 4, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = model.terms(x)["objective"].item()
    for _ in range(20):
        optimizer.zero_grad()
        loss = model.terms(x)["objective"]
        loss.backward()
        codes = model.encode(x)
        # d/dW mean_n ||x_n - a_n W||^2 = -2/N a^T (x - aW): the codes are held fixed
        expected = -2 * codes.T @ (x.flatten(1) - codes @ model.dictionary.detach()) / len(x)
        torch.testing.assert_close(model.dictionary.grad, expected)
        optimizer.step()
        model.normalize_atoms_()
    torch.testing.assert_close(model.dictionary.norm(dim=1), torch.ones(24))
    assert model.terms(x)["objective"].item() < before
    atoms = model.atoms()
    assert atoms.shape == (24, 1, 4, 4) and atoms.min() >= 0 and atoms.max() <= 1
