"""The constants the paper leaves unnamed, as parameters of the checks (docs/theory.md: "a parameter of
the check"). Each assumption reports whether it held for these values and the fitted value."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Constants:
    a32_ratio: float = 0.1         # A3.2: higher-order part ≤ this fraction of the whole change
    a33_rel: float = 0.1           # A3.3: ‖D_GD − D_flow‖ ≤ this · ‖D_flow‖ during phase I
    K: float = 4.0                 # A3.4 / A4.4: ηΛ ≤ K (Lewkowycz et al.: 4)
    eps: float = 0.1               # A3.5(iii): ‖u₁(t+1) − u₁(t)‖ ≤ ε
    overlap_min: float = 0.98      # A3.5(i)/(ii): |⟨u₁(t), u₁(0)⟩| ≥ this (App. D.1.5)
    a36_c: float = 1.0             # A3.6: |⟨D(t₀), u₁(t₀)⟩| ≥ c ε ‖D(t₀)‖
    a41_c: float = 2.0             # A4.1: λᵢ/λᵢ₊₁ ≤ c for the top ``a41_top`` ratios
    a41_top: int = 100
    a41_gamma: float = 2.0         # A4.1: λ₁ ≥ γ λ₂
    a42_delta: float = 1e-3        # A4.2: |Yᵢ| ≥ δ ‖Y‖ for the top ``a41_top`` directions
    a43_C: float = 10.0            # A4.3: ‖Ê(t)‖ ≤ C · max over phase I of ‖Ê‖
    a45_c: float = 1e-3            # A4.5: |D₁(t₀)| ≥ c ‖D(t₀)‖ at each start of phase II
    c13_T: int = 1000              # Lemma C.13: every excursion above 2/η ends within T steps
    lemma31_overlap: float = 0.99  # Lemma 3.1's "eigenvectors fixed": |⟨u₁(t), u₁(0)⟩| ≥ this
    theorem1_near: float = 0.05    # Theorem 1 applies while ηΛ̃ < 2 − near …
    theorem1_loss: float = 1e-3    # … and the loss is above this fraction of L(0)


# u₁ is a Ritz vector of G with ‖Gu₁ − Λu₁‖ ≤ RECORD_TOL·Λ (theory.record), so a first-order
# statement that uses Gu₁ = Λu₁ (⟨u₁, ηGD⟩ = ηΛ⟨u₁, D⟩; P_u(I − ηG)D = (I − ηG_⊥)P_uD) holds on a
# record only to ηΛ·RECORD_TOL·‖D‖ per use; the slack of those checks is this many such terms (two
# uses per step, and the normalisation of u₁), added to FP_RTOL, relative to ‖D‖ + ‖D⁺‖.
EIGVEC_SLACK_TERMS = 4.0
