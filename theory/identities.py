"""SymPy derivations of the exact identities I1–I12 and the flow equations (eq. 1, 2).

Each identity is built from the model's definition — W, a, X, Y as matrices of independent
symbols, η and α as symbols, one GD step written as eq. 6 — and verified by expanding
"left side − right side" to the zero polynomial, entry by entry. Nothing is substituted.

Why the sizes do not matter: both sides are compositions of the same matrix operations (products,
transposes, sums, and 1×1 contractions such as ⟨F, D⟩ that commute with everything), so their
difference is a matrix whose entries are polynomials built by the same index contractions at
every size; the cancellations SymPy finds use only associativity, distributivity, transposition
and commuting scalars — rules that hold at every size. To guard against an identity that holds
only because two dimensions coincide, every identity is verified at two size triples with d, n, m
pairwise different in at least one of them. Identities that use an eigenvector of K (I5–I7) are
verified with X's columns orthogonal (K diagonal, symbolic eigenvalues): by rotating the sample
space, any data set can be brought to that form without changing any of the identities.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy import QQ
from sympy.polys.rings import ring

SIZES = ((2, 2, 2), (3, 2, 4))  # (d, n, m)


@dataclass(frozen=True)
class IdentityResult:
    name: str
    statement: str
    verified: bool
    sizes: tuple
    seconds: float


class _Mat:
    """A small dense matrix of elements of a SymPy polynomial ring (exact, canonical form).

    Ring arithmetic keeps every entry expanded, so "left − right = 0" is a comparison of
    sparse polynomials, not a simplification problem."""

    def __init__(self, rows):
        self.rows = [list(r) for r in rows]

    @property
    def shape(self):
        return len(self.rows), len(self.rows[0]) if self.rows else 0

    @property
    def T(self):
        return _Mat(zip(*self.rows, strict=True))

    def __getitem__(self, ij):
        i, j = ij
        return self.rows[i][j]

    def __add__(self, o):
        return _Mat([[x + y for x, y in zip(r, s, strict=True)]
                     for r, s in zip(self.rows, o.rows, strict=True)])

    def __sub__(self, o):
        return _Mat([[x - y for x, y in zip(r, s, strict=True)]
                     for r, s in zip(self.rows, o.rows, strict=True)])

    def __neg__(self):
        return _Mat([[-x for x in r] for r in self.rows])

    def __mul__(self, c):  # scalar
        return _Mat([[c * x for x in r] for r in self.rows])

    __rmul__ = __mul__

    def __matmul__(self, o):
        cols = list(zip(*o.rows, strict=True))
        zero = self.rows[0][0].ring.zero
        return _Mat([[sum((x * y for x, y in zip(r, c, strict=True)), zero) for c in cols]
                     for r in self.rows])

    def scalar(self):
        assert self.shape == (1, 1)
        return self.rows[0][0]

    def is_zero(self):
        return all(x == 0 for r in self.rows for x in r)

    def flat(self):
        return [x for r in self.rows for x in r]


class _Model:
    """Symbolic model at sizes (d, n, m); ``diagonal_K`` gives X orthogonal columns."""

    def __init__(self, d, n, m, diagonal_K=False):
        if diagonal_K and n > d:
            raise ValueError("diagonal K needs n ≤ d")
        self.d, self.n, self.m = d, n, m
        names = (["eta", "alpha"] + [f"W{i}_{j}" for i in range(m) for j in range(d)]
                 + [f"a{i}" for i in range(m)] + [f"Y{i}" for i in range(n)]
                 + ([f"x{j}" for j in range(n)] if diagonal_K else
                    [f"X{i}_{j}" for i in range(d) for j in range(n)])
                 + [f"dW{i}_{j}" for i in range(m) for j in range(d)] + [f"da{i}" for i in range(m)]
                 + [f"w{i}" for i in range(n)] + [f"u{i}" for i in range(n)])
        self.R, *gens = ring(names, QQ)
        g = dict(zip(names, gens, strict=True))
        self.g = g
        self.eta, self.alpha = g["eta"], g["alpha"]
        self.W = _Mat([[g[f"W{i}_{j}"] for j in range(d)] for i in range(m)])
        self.a = _Mat([[g[f"a{i}"]] for i in range(m)])
        self.Y = _Mat([[g[f"Y{i}"]] for i in range(n)])
        zero = self.R.zero
        if diagonal_K:
            self.X = _Mat([[g[f"x{j}"] if i == j else zero for j in range(n)] for i in range(d)])
        else:
            self.X = _Mat([[g[f"X{i}_{j}"] for j in range(n)] for i in range(d)])
        self.dW = _Mat([[g[f"dW{i}_{j}"] for j in range(d)] for i in range(m)])
        self.da = _Mat([[g[f"da{i}"]] for i in range(m)])
        self.w = _Mat([[g[f"w{i}"]] for i in range(n)])
        self.u = _Mat([[g[f"u{i}"]] for i in range(n)])
        self.inv_n = QQ(1, n)

    def eye(self, k):
        return _Mat([[self.R.one if i == j else self.R.zero for j in range(k)] for i in range(k)])

    def parts(self, W=None, a=None):
        W = self.W if W is None else W
        a = self.a if a is None else a
        al, X = self.alpha, self.X
        Z = W @ X
        F = al * (Z.T @ a)
        D = F - self.Y
        K = self.inv_n * (X.T @ X)
        G = al**2 * (self.inv_n * (Z.T @ Z) + (a.T @ a).scalar() * K)
        return Z, F, D, K, G

    def step(self):
        al, eta, c = self.alpha, self.eta, self.inv_n
        Z, F, D, K, G = self.parts()
        a1 = self.a - (eta * al * c) * (Z @ D)
        W1 = self.W - (eta * al * c) * (self.a @ (self.X @ D).T)
        return W1, a1


def _zero(M) -> bool:
    return M.is_zero()


def _dot(u: _Mat, v: _Mat) -> Any:
    return (u.T @ v).scalar()


def i1(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    return _zero(W1 @ M.X - (Z - (M.eta * M.alpha) * (M.a @ (K @ D).T)))


def i2(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    D1 = M.parts(W1, a1)[2]
    Gt = G - (M.eta * M.alpha**2 * M.inv_n * _dot(F, D)) * K
    return _zero(D1 - (M.eye(M.n) - M.eta * Gt) @ D)


def i3(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    ZD = Z @ D
    c = M.inv_n
    rhs = -2 * M.eta * c * _dot(F, D) + M.eta**2 * M.alpha**2 * c**2 * _dot(ZD, ZD)
    return _dot(a1, a1) - _dot(M.a, M.a) - rhs == 0


def i4(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    G1 = M.parts(W1, a1)[4]
    k = K @ D
    ZD = Z @ D
    eta, al, c = M.eta, M.alpha, M.inv_n
    rhs = ((-(eta * al**2 * c)) * (F @ k.T + k @ F.T + (2 * _dot(F, D)) * K)
           + (eta**2 * al**4 * c) * (_dot(M.a, M.a) * (k @ k.T) + (_dot(ZD, ZD) * c) * K))
    return _zero(G1 - G - rhs)


def _tilde_parts(M):
    Z, F, D, K, G = M.parts()
    eta, al, c = M.eta, M.alpha, M.inv_n
    E = (al**2 * c) * (Z.T @ Z) - K
    kappa = 1 + al**2 * _dot(M.a, M.a) - eta * al**2 * c * _dot(F, D)
    Gt = G - (eta * al**2 * c * _dot(F, D)) * K
    return Z, F, D, K, G, E, kappa, Gt


def i5(M: _Model) -> bool:
    """Λ̃ = v₁ᵀGv₁ with v₁ = e₁ (K diagonal)."""
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    G1 = M.parts(W1, a1)[4]
    eta, al, c = M.eta, M.alpha, M.inv_n
    l1, D1, F1 = K[0, 0], D[0, 0], F[0, 0]
    ZD = Z @ D
    rhs = (-(2 * eta * al**2 * l1 * c) * (F1 * D1 + _dot(F, D))
           + (eta**2 * al**4 * l1 * c) * (l1 * _dot(M.a, M.a) * D1**2 + _dot(ZD, ZD) * c))
    return G1[0, 0] - G[0, 0] - rhs == 0


def i6(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G, E, kappa, Gt = _tilde_parts(M)
    D1 = M.parts(W1, a1)[2]
    ED = E @ D
    rhs = _Mat([[(1 - M.eta * kappa * K[i, i]) * D[i, 0] - M.eta * ED[i, 0]] for i in range(M.n)])
    return _zero(Gt - (kappa * K + E)) and _zero(D1 - rhs)


def i7(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G, E, kappa, Gt = _tilde_parts(M)
    D1 = M.parts(W1, a1)[2]
    P = M.eye(M.n)
    P.rows[0][0] = M.R.zero  # I − v₁v₁ᵀ with v₁ = e₁
    Kp = _Mat(K.rows)
    Kp.rows[0][0] = M.R.zero  # K − λ₁v₁v₁ᵀ
    return _zero(P @ D1 - ((M.eye(M.n) - (M.eta * kappa) * Kp) @ (P @ D) - M.eta * (P @ (E @ D))))


def i8(M: _Model) -> bool:
    """D⁺ − D = Xᵀq for an explicit q, so it is orthogonal to every v with Xv = 0."""
    W1, a1 = M.step()
    D = M.parts()[2]
    D1 = M.parts(W1, a1)[2]
    q = M.alpha * (W1.T @ a1 - M.W.T @ M.a)
    return _zero(D1 - D - M.X.T @ q)


def i9(M: _Model) -> bool:
    W1, a1 = M.step()
    Z, F, D, K, G = M.parts()
    XD, ZD = M.X @ D, Z @ D
    lhs = (W1 @ W1.T - a1 @ a1.T) - (M.W @ M.W.T - M.a @ M.a.T)
    rhs = ((M.eta * M.alpha * M.inv_n) ** 2) * (_dot(XD, XD) * (M.a @ M.a.T) - ZD @ ZD.T)
    return _zero(lhs - rhs)


def _theta(M):
    return M.W.flat() + M.a.flat()


def _jacobian(M, F):
    th = _theta(M)
    return _Mat([[f.diff(p) for p in th] for f in F.flat()])


def i10(M: _Model) -> bool:
    """H·(δW, δa) of the closed form equals the symbolic Hessian of L times (δW, δa)."""
    Z, F, D, K, G = M.parts()
    L = M.inv_n * _dot(D, D) / 2
    th = _theta(M)
    v = M.dW.flat() + M.da.flat()
    Hv = [sum((L.diff(p).diff(q) * vq for q, vq in zip(th, v, strict=True)), M.R.zero) for p in th]
    al, c, X = M.alpha, M.inv_n, M.X
    u = al * (X.T @ (M.dW.T @ M.a) + Z.T @ M.da)
    XD = X @ D
    HW = (al * c) * (M.a @ (X @ u).T + M.da @ XD.T)
    Ha = (al * c) * (Z @ u + M.dW @ XD)
    closed = HW.flat() + Ha.flat()  # row-major, as _theta
    return all(x - y == 0 for x, y in zip(Hv, closed, strict=True))


def gram_is_JJt(M: _Model) -> bool:
    """eq. 8 / App. F: G = J Jᵀ / n with J = ∂F/∂θ; I11: JᵀJ (Jᵀw) = Jᵀ (JJᵀ w)."""
    Z, F, D, K, G = M.parts()
    J = _jacobian(M, F)
    w = M.w
    return _zero(G - M.inv_n * (J @ J.T)) and _zero(J.T @ J @ (J.T @ w) - J.T @ ((J @ J.T) @ w))


def i12(M: _Model) -> bool:
    """⟨F,D⟩ = ⟨F,u⟩⟨D,u⟩ + ⟨P_uF, P_uD⟩ for any unit u (reduced modulo uᵀu − 1)."""
    F, D = M.parts()[1:3]
    u = M.u
    P = M.eye(M.n) - u @ u.T
    expr = _dot(F, D) - _dot(F, u) * _dot(D, u) - _dot(P @ F, P @ D)
    uu = _dot(u, u) - 1
    syms = [M.R.to_sympy(x) if hasattr(M.R, "to_sympy") else x.as_expr() for x in u.flat()]
    return sp.reduced(expr.as_expr(), [uu.as_expr()], *syms)[1] == 0


def flow(M: _Model) -> bool:
    """eq. 1–2: along θ' = −∇L, dD/dt = −G D and d‖a‖²/dt = −(2/n)⟨F, D⟩ (chain rule)."""
    Z, F, D, K, G = M.parts()
    L = M.inv_n * _dot(D, D) / 2
    th = _theta(M)
    thdot = _Mat([[-L.diff(p)] for p in th])
    Ddot = _jacobian(M, F) @ thdot
    md = M.m * M.d
    a2dot = sum((2 * M.a[i, 0] * thdot[md + i, 0] for i in range(M.m)), M.R.zero)
    return _zero(Ddot + G @ D) and a2dot + 2 * M.inv_n * _dot(F, D) == 0


IDENTITIES = (
    ("I1", "Z⁺ = Z − ηα a (KD)ᵀ", i1, False),
    ("I2", "D⁺ = (I − ηG̃)D, G̃ = G − (ηα²/n)⟨F,D⟩K", i2, False),
    ("I3", "‖a⁺‖² − ‖a‖² = −(2η/n)⟨F,D⟩ + (η²α²/n²)‖ZD‖²", i3, False),
    ("I4", "G⁺ − G = −(ηα²/n)[F(KD)ᵀ + (KD)Fᵀ + 2⟨F,D⟩K] + (η²α⁴/n)[‖a‖²(KD)(KD)ᵀ + (‖ZD‖²/n)K]", i4, False),
    ("I5", "Λ̃⁺ − Λ̃ = −(2ηα²λ₁/n)(F₁D₁ + ⟨F,D⟩) + (η²α⁴λ₁/n)(λ₁‖a‖²D₁² + ‖ZD‖²/n)", i5, True),
    ("I6", "G̃ = κK + Ê and Dᵢ⁺ = (1 − ηκλᵢ)Dᵢ − η vᵢᵀÊD", i6, True),
    ("I7", "D̃⁺ = (I − ηκK_⊥)D̃ − ηPÊD", i7, True),
    ("I8", "D⁺ − D ∈ range(Xᵀ): the null space of X is frozen", i8, False),
    ("I9", "(W⁺W⁺ᵀ − a⁺a⁺ᵀ) − (WWᵀ − aaᵀ) = (ηα/n)²(‖XD‖²aaᵀ − (ZD)(ZD)ᵀ)", i9, False),
    ("I10", "H·(δW, δa) = (αa(Xu)ᵀ/n + αδa(XD)ᵀ/n, αZu/n + αδW(XD)/n)", i10, False),
    ("I11", "G = JJᵀ/n and JᵀJ(Jᵀw) = Jᵀ(JJᵀw)", gram_is_JJt, False),
    ("I12", "⟨F,D⟩ = ⟨F,u₁⟩⟨D,u₁⟩ + ⟨P_uF, P_uD⟩", i12, False),
    ("eq. 1–2", "gradient flow: dD/dt = −GD, d‖a‖²/dt = −(2/n)⟨F,D⟩", flow, False),
)


def verify(names=None, sizes=SIZES) -> list[IdentityResult]:
    """Verify the identities (all, or those named) at every size triple."""
    out = []
    for name, statement, fn, diag in IDENTITIES:
        if names and name not in names:
            continue
        t0 = time.perf_counter()
        ok = True
        for d, n, m in sizes:
            ok = ok and bool(fn(_Model(d, n, m, diagonal_K=diag)))
        out.append(IdentityResult(name, statement, ok, tuple(sizes), time.perf_counter() - t0))
    return out
