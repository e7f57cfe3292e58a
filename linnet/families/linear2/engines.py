"""The two exact implementations of GD on the linear network that ``train`` can run.

* :class:`SpectralEngine` (default): state (Z_v, a) with Z_v = Z V = W U diag(s) (m×r), the
  features in K's eigenbasis. Per step O(m·r), independent of d (docs/theory.md §2.3):
  D_v = α Z_vᵀ a − Y_v,  a⁺ = a − ηα Z_v D_v / n,  Z_v⁺ = Z_v − ηα a (λ ⊙ D_v)ᵀ   (eq. 6 via I1).
  The residual's null part −(I − VVᵀ)Y never moves (Lemma E.10) and is kept exactly.
* :class:`LiteralEngine`: W and a updated literally by eq. 6, Z = W X formed every step,
  O(m·d·n). The reference the fast engine is tested against.

Both expose the same small interface: ``observe()`` returns the quantities at the current
state, ``step(eta, obs, carry)`` advances it, and products with G, Ê and the Hessian (for the
spectral engine restricted to a subspace of dimension r + 2m that holds its range, where the rest
of the spectrum is 0) feed the eigensolvers. The spectral engine also gives the change of G and
Ê over a step in closed form (``gram_update``, ``e_hat_update``), which lets
:class:`~linnet.tracking.EigTracker` follow Λ with few products; the literal engine returns None
there, and the tracker recomputes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..._backend import namespace
from ...spectral import DataSpectrum
from .hessian import hvp_parts
from .lowrank import LowRank


@dataclass
class Observation:
    """Quantities at one state; ``D`` and ``F`` are in the engine's own coordinates. ``carried``
    maps "gram"/"e_hat" to the image, at this state, of the vector carried for it by the last step."""

    D: object
    F: object
    loss: float
    fd: float
    a_norm2: float
    lambda_tilde: float
    d_top: object
    f_top: object
    carried: dict = field(default_factory=dict)


class SpectralEngine:
    """GD on (Z_v, a). A step may *carry* up to ``CARRY`` vectors p (the eigen-trackers' probes):
    Z_v p rides along the step's product Z_v D and Z_vᵀ(Z_v p) along the next observation's
    product Z_vᵀ a, so that G p and Ê p at the new state cost no extra pass over Z_v. The products
    always have WIDTH ≥ 1 + CARRY columns, unused ones zero: a column of a matrix product does not depend
    on the others, so the trajectory is bitwise the same whatever is carried or measured."""

    name = "spectral"
    CARRY = 2
    COMPILABLE = True  # train(jit=True) runs this engine as one compiled loop (linnet.jit)
    EXACT_GA = False  # ‖G_A‖, if asked, tracked on ga_matvec
    # columns per product, padded; one pass over Z_v (200×1000) on the bench machine takes
    # ~60 µs with 1 column, ~70 with 2, ~135 with 3 and ~85 with 4
    WIDTH = 4

    def __init__(self, spec: DataSpectrum, W0, a0, alpha: float, dtype, top_k: int):
        xp = namespace(W0)
        self.xp, self.spec, self.al, self.k = xp, spec, alpha, min(top_k, spec.r)
        self.dtype = dtype
        self.n = spec.n
        self.lam, self.s, self.Yv, self.U = spec.in_dtype(dtype)
        self.W0 = W0
        self.Zv0 = spec.projected(W0, dtype)  # shared with other engines on this start: read-only
        self.a = a0
        self.dim = spec.r
        self.Zv = self.Zv0.copy()
        m, r = self.Zv0.shape
        self._right = xp.zeros((r, self.WIDTH), dtype=dtype)  # [D, p…, 0] for Z_v·
        self._left = xp.zeros((m, self.WIDTH), dtype=dtype)  # [a, Z_v p…, 0] for Z_vᵀ·
        self._carry: list[tuple[str, Any, Any]] = []

    @property
    def Zv(self):
        """Z_v = Z V (m×r) with every pending update applied."""
        return self._z.fold()

    @Zv.setter
    def Zv(self, value):
        self._z = LowRank(self.xp, self.xp.ascontiguousarray(value))
        self.last_update = None
        self._carry = []

    def observe(self) -> Observation:
        al, n = self.al, self.n
        left = self._left
        left[:, 0] = self.a
        for i, (_, _, zp) in enumerate(self._carry):
            left[:, 1 + i] = zp
        out = self._z.rmv(left)
        F = al * out[:, 0]
        D = F - self.Yv
        a2 = float(self.a @ self.a)
        carried = {}
        for i, (kind, p, _) in enumerate(self._carry):
            image = (al**2 / n) * out[:, 1 + i]  # G_A p; G = G_A + α²‖a‖² diag(λ), Ê = G_A − diag(λ)
            if kind == "gram":
                image = image + ((al**2 * a2) * self.lam) * p
            elif kind == "e_hat":
                image = image + (-self.lam) * p
            carried[kind] = image
            left[:, 1 + i] = 0
        self._carry = []
        z1 = self._z.col0()
        return Observation(
            D,
            F,
            (float(D @ D) + self.spec.y_null2) / (2 * n),
            float(F @ D),
            a2,
            al**2 * (float(z1 @ z1) / n + a2 * float(self.lam[0])),
            D[: self.k],
            F[: self.k],
            carried,
        )

    def step(self, eta: float, obs: Observation, carry=()) -> bool:
        """Advance in place; returns False (state untouched) if the update is not finite.

        ``carry``: up to CARRY pairs (kind, p), kind "gram", "e_hat" or "ga"; the next observation
        holds that operator's image of p in ``carried[kind]``.
        """
        if len(carry) > self.CARRY:
            raise ValueError(f"at most {self.CARRY} vectors can be carried, got {len(carry)}")
        c = eta * self.al
        right = self._right
        right[:, 0] = obs.D
        for i, (_, p) in enumerate(carry):
            right[:, 1 + i] = p
        out = self._z.mv(right)
        right[:, 1:] = 0
        da = (c / self.n) * out[:, 0]
        lamD = (-c) * (self.lam * obs.D)
        if not (math.isfinite(float(da @ da)) and math.isfinite(float(lamD @ lamD))):
            return False
        # Z_v⁺ p = Z_v p + a (yᵀp) for the update Z_v ← Z_v + a yᵀ below
        self._carry = [
            (kind, p, out[:, 1 + i] + self.a * float(lamD @ p)) for i, (kind, p) in enumerate(carry)
        ]
        if self._z.add(self.a, lamD):  # Z_v ← Z_v − c a (λ⊙D)ᵀ
            self._z.fold()
        a_old2 = obs.a_norm2
        self.a = self.a - da
        self.last_update = (obs.F, lamD, a_old2, float(self.a @ self.a))
        return True

    def gram_matvec(self, obs: Observation):
        """v ↦ G v = (α²/n) Z_vᵀ Z_v v + α²‖a‖² λ ⊙ v (Lemma C.1); v may hold vectors as columns."""
        z, c, lam_a2 = self._z, self.al**2 / self.n, self.al**2 * obs.a_norm2 * self.lam
        return lambda x: c * z.rmv(z.mv(x)) + _scale_rows(lam_a2, x)

    def e_hat_matvec(self, obs: Observation | None = None):
        """v ↦ Ê v = (α²/n) Z_vᵀ Z_v v − λ ⊙ v; v may hold vectors as columns."""
        z, c, lam = self._z, self.al**2 / self.n, self.lam
        return lambda x: c * z.rmv(z.mv(x)) - _scale_rows(lam, x)

    def gram_update(self, updates):
        """The change of G over the GD steps ``updates`` (``last_update`` of each), applied to blocks.

        One step maps Z_v ↦ Z_v + a yᵀ (y = −ηα λ⊙D, I1) and ‖a‖² ↦ ‖a⁺‖² (I3), so
        ΔG = (α/n)(F yᵀ + y Fᵀ) + (α²/n)‖a‖² y yᵀ + α²(‖a⁺‖² − ‖a‖²) diag(λ), since Z_vᵀ a = F/α.
        Returns ``update(Q, S)``: S += ΔG Qᵀ row-wise, O(k·r) for k rows (the EigTracker hook).
        """
        return self._update(updates, diag=True)

    def e_hat_update(self, updates):
        """As :meth:`gram_update` for Ê = (α²/n)Z_vᵀZ_v − diag(λ): the same terms without diag(λ)."""
        return self._update(updates, diag=False)

    def ga_matvec(self, obs: Observation):
        """v ↦ G_A v = (α²/n) Z_vᵀ Z_v v, the output layer's Gram (G = G_A + α²‖a‖²K)."""
        z, c = self._z, self.al**2 / self.n
        return lambda x: c * z.rmv(z.mv(x))

    def ga_update(self, updates):
        """As :meth:`e_hat_update`: G_A and Ê differ by the constant diag(λ)."""
        return self._update(updates, diag=False)

    # read-only access to Z_v = Z V in its deferred form (reading folds nothing, so an observer
    # leaves the run's roundoff alone)
    def zv_matvec(self, v):
        """Z_v v."""
        return self._z.mv(v)

    def zv_rmatvec(self, w):
        """Z_vᵀ w."""
        return self._z.rmv(w)

    def zv_col0(self):
        """Z_v's first column, Z v₁."""
        return self._z.col0()

    def zv_copy(self):
        """A copy of Z_v with the pending updates added (the stored base is left as it is)."""
        z = self._z
        return z.B + z.P[:, : z.j] @ z.Q[: z.j] if z.j else z.B.copy()

    def _update(self, updates, diag):
        if not updates or any(u is None for u in updates):
            return None
        xp, b, b2 = self.xp, self.al / self.n, self.al**2 / self.n
        # row q of a block gains (q·y)(b F + b2 ‖a‖² y) + (q·F)(b y) per step: S += (Q Lᵀ) R
        terms = []
        for F, y, a2, _ in updates:
            L = xp.empty((2, F.shape[0]), dtype=F.dtype)
            R = xp.empty_like(L)
            L[0], L[1] = y, F
            R[0], R[1] = b * F + (b2 * a2) * y, b * y
            terms.append((L, R))
        dlam = (self.al**2 * (updates[-1][3] - updates[0][2])) * self.lam if diag else None

        def update(Q, S):
            for L, R in terms:
                S += (Q @ L.T) @ R
            if dlam is not None:
                S += dlam * Q

        return update

    def hessian_matvec(self, obs: Observation):
        """H on the (r + 2m)-dimensional subspace that holds its range, in isometric coordinates.

        In reduced coordinates (δW = δR Uᵀ; the rest of W-space is in H's kernel), with ŝ = s ⊙ D,
        H(δR, δa) = (α/n)(a (s⊙u)ᵀ + δa ŝᵀ, Z_v u + δR ŝ), u = α(s ⊙ δRᵀa + Z_vᵀ δa)   (I10).
        Its range lies in {(â z₁ᵀ + z₂ ŝᵀ/‖ŝ‖, z₃) : z₁ ∈ R^r, z₂ ⊥ â, z₃ ∈ R^m} (â = a/‖a‖; for
        a = 0 or ŝ = 0 any unit vector stands in, and the formulas below never divide), and
        (z₁, z₂, z₃) ↦ that vector is an isometry, so H restricted there has all of H's non-zero
        eigenvalues, and the top one (≥ 0: trace H = ‖J‖²/n, the residual term being traceless).
        With P = I − ââᵀ:
            u = α(‖a‖ s⊙z₁ + Z_vᵀ z₃),   z₁' = (α/n)(‖a‖ s⊙u + (z₃·â) ŝ),
            z₂' = (α/n)‖ŝ‖ P z₃,          z₃' = (α/n)(Z_v u + (z₁·ŝ) â + ‖ŝ‖ P z₂),
        a symmetric operator (z₂ enters through P, so its â-part is one more 0 eigenvalue): two
        passes over Z_v per product and vectors of r + 2m numbers, where the m·r + m coordinates
        of (δR, δa) cost several m×r temporaries a product. Z_v is used through its deferred form,
        so measuring H leaves the run's roundoff alone.
        """
        xp, al, n, z, a, s = self.xp, self.al, self.n, self._z, self.a, self.s
        m, r = a.shape[0], self.dim
        sD = s * obs.D
        sD_norm = math.sqrt(float(sD @ sD))
        a_norm = math.sqrt(obs.a_norm2)
        if a_norm > 0:
            a_hat = a / a_norm
        else:  # a = 0: any unit vector will do, the subspace then holds H's range all the same
            a_hat = xp.zeros_like(a)
            a_hat[0] = 1
        c = al / n

        def matvec(v):
            z1, z2, z3 = v[:r], v[r : r + m], v[r + m :]
            u = al * (a_norm * (s * z1) + z.rmv(z3))
            z3_a = float(z3 @ a_hat)
            out = xp.empty_like(v)
            out[:r] = c * (a_norm * (s * u) + z3_a * sD)
            out[r : r + m] = (c * sD_norm) * (z3 - z3_a * a_hat)
            out[r + m :] = c * (z.mv(u) + float(z1 @ sD) * a_hat + sD_norm * (z2 - float(z2 @ a_hat) * a_hat))
            return out

        return matvec, r + 2 * m

    def v1(self):
        e = self.xp.zeros(self.dim, dtype=self.lam.dtype)
        e[0] = 1
        return e

    def params(self):
        W = self.W0 + ((self.Zv - self.Zv0) / self.s) @ self.U.T
        return W, self.a

    def set_params(self, W, a):
        """Put the engine at the parameters (W, a) (given in the original coordinates, e.g. a GD
        run of one's own): Z_v = W U diag(s); what was pending or carried is dropped."""
        self.Zv = (W @ self.U) * self.s
        self.a = a

    # gradient flow on the same state
    def get_state(self):
        return self.xp.concatenate([self.Zv.ravel(), self.a])

    def set_state(self, z):
        m = self.a.shape[0]
        self.Zv, self.a = z[:-m].reshape(m, self.dim), z[-m:]

    def flow_rhs(self, z):
        m = self.a.shape[0]
        Zv, a = z[:-m].reshape(m, self.dim), z[-m:]
        D = self.al * (Zv.T @ a) - self.Yv
        return self.xp.concatenate(
            [(-self.al) * self.xp.outer(a, self.lam * D).ravel(), (-self.al / self.n) * (Zv @ D)]
        )


class LiteralEngine:
    name = "literal"
    CARRY = 0
    COMPILABLE = False
    EXACT_GA = False

    def __init__(self, spec: DataSpectrum, W0, a0, alpha: float, dtype, top_k: int):
        xp = namespace(W0)
        self.xp, self.al, self.spec, self.dtype = xp, alpha, spec, dtype
        self.X = spec.X.astype(dtype)
        self.Y = spec.Y.astype(dtype)
        self.n = spec.n
        self.k = min(top_k, spec.r)
        self.Vk = spec.V(self.k).astype(dtype)
        self.lam1 = float(spec.lam[0])
        self.W, self.a = W0, a0
        self.dim = spec.n
        self.last_update = None

    def observe(self) -> Observation:
        al, n = self.al, self.n
        self.Z = self.W @ self.X
        F = al * (self.Z.T @ self.a)
        D = F - self.Y
        a2 = float(self.a @ self.a)
        z1 = self.Z @ self.Vk[:, 0]
        return Observation(
            D,
            F,
            float(D @ D) / (2 * n),
            float(F @ D),
            a2,
            al**2 * (float(z1 @ z1) / n + a2 * self.lam1),
            self.Vk.T @ D,
            self.Vk.T @ F,
        )

    def step(self, eta: float, obs: Observation, carry=()) -> bool:
        """Eq. 6 with the old values; returns False (state untouched) if the update is not finite.
        ``carry`` is accepted for the common interface and ignored (the eigensolver pays instead)."""
        c = eta * self.al / self.n
        XD = self.X @ obs.D
        a_new = self.a - c * (self.Z @ obs.D)
        W_new = self.W - c * self.xp.outer(self.a, XD)
        if not (bool(self.xp.all(self.xp.isfinite(W_new))) and bool(self.xp.all(self.xp.isfinite(a_new)))):
            return False
        self.W, self.a = W_new, a_new
        return True

    def gram_matvec(self, obs: Observation):
        Z, X, c, a2 = self.Z, self.X, self.al**2 / self.n, obs.a_norm2
        return lambda x: c * (Z.T @ (Z @ x) + a2 * (X.T @ (X @ x)))  # columns too

    def e_hat_matvec(self, obs: Observation | None = None):
        Z, X, c, n = self.Z, self.X, self.al**2 / self.n, self.n
        return lambda x: c * (Z.T @ (Z @ x)) - (X.T @ (X @ x)) / n

    def hessian_matvec(self, obs: Observation):
        xp, W, a, X, Y, al = self.xp, self.W, self.a, self.X, self.Y, self.al
        m, d = W.shape
        Z, XD = self.Z, X @ obs.D

        def matvec(v):
            HW, Ha = hvp_parts(W, a, X, Y, v[: m * d].reshape(m, d), v[m * d :], al, Z, XD)
            return xp.concatenate([HW.ravel(), Ha])

        return matvec, m * d + m

    def ga_matvec(self, obs: Observation):
        Z, c = self.Z, self.al**2 / self.n
        return lambda x: c * (Z.T @ (Z @ x))

    def gram_update(self, updates):
        return None  # ΔG involves XᵀX here: the eigensolver recomputes instead

    def e_hat_update(self, updates):
        return None

    def ga_update(self, updates):
        return None

    def v1(self):
        return self.Vk[:, 0]

    def params(self):
        return self.W, self.a

    def get_state(self):
        return self.xp.concatenate([self.W.ravel(), self.a])

    def set_state(self, z):
        m = self.a.shape[0]
        self.W, self.a = z[:-m].reshape(m, -1), z[-m:]

    def flow_rhs(self, z):
        m, al, n = self.a.shape[0], self.al, self.n
        W, a = z[:-m].reshape(m, -1), z[-m:]
        XD = self.X @ (al * (self.X.T @ (W.T @ a)) - self.Y)
        return self.xp.concatenate([(-al / n) * self.xp.outer(a, XD).ravel(), (-al / n) * (W @ XD)])


def _scale_rows(d, x):
    """diag(d) x for a vector x or for the columns of a matrix x."""
    return d * x if x.ndim == 1 else d[:, None] * x


ENGINES = {"spectral": SpectralEngine, "literal": LiteralEngine}
