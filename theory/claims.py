"""The paper's claims, each declared once: a stable id, its kind, where the paper makes it, and the
sentence that makes it (quoted from the paper's text), for rules and reports to cite.

``kind`` is "reproduction" (an empirical claim a run can support or contradict) or "consistency"
(a fact that holds by construction or by proof, checked to catch implementation errors; never
counted as a reproduction). The rules that judge a run against a claim live in
:mod:`validation.section3`; this registry says only what is claimed. The paper's text as we have
it lost its formulas: symbols inside the quotes (2/η, λ_max(G_A), u₁, D, ‖A‖) are restored from
the paper's notation, and "[…]" marks omitted text.
"""

from __future__ import annotations

from dataclasses import dataclass

REPRODUCTION, CONSISTENCY = "reproduction", "consistency"


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    paper: str  # where the paper makes it
    kind: str  # REPRODUCTION or CONSISTENCY
    quote: str  # the paper's sentence
    scope: str  # the runs it is about


# App. B.1's sentence on A3.1, judged in its two windows apart (PS; the first few oscillations)
_A31_QUOTE = (
    "the sharpness is positively correlated to the dynamics output layer norm (A-norm) most of "
    "the time in the progressive sharpening stage and the first few oscillations."
)
_S3_NETS = "any network whose last layer is linear, trained by full-batch GD on the MSE loss"
_LINEAR = "the two-layer linear network f(x) = α aᵀWx (App. B.1.1, C.1), trained by full-batch GD"

CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        Claim(
            "s3.ps_then_eos",
            "PS, then the edge of stability",
            "§2, Fig. 1",
            REPRODUCTION,
            "Notice that the sharpness keeps increasing while the loss decreases until the sharpness "
            "reaches 2/η. Then the sharpness begins to oscillate around 2/η while the loss decreases "
            "non-monotonically.",
            _S3_NETS,
        ),
        Claim(
            "s3.four_phases",
            "the four phases recur",
            "§3.1, Figs. 1, 4",
            REPRODUCTION,
            "The four phases happen cyclically along the training trajectory.",
            _S3_NETS,
        ),
        Claim(
            "s3.a31.ps",
            "‖A‖² moves with the sharpness (A3.1) in PS",
            "§3.2, App. B.1, Figs. 2, 5–10",
            REPRODUCTION,
            _A31_QUOTE,
            _S3_NETS,
        ),
        Claim(
            "s3.a31.oscillations",
            "‖A‖² moves with the sharpness (A3.1) in the first oscillations",
            "§3.2, App. B.1, Figs. 2, 5–10",
            REPRODUCTION,
            _A31_QUOTE,
            _S3_NETS,
        ),
        Claim(
            "s3.ga_small",
            "‖G_A‖ ≪ ‖G‖",
            "§3.2, App. D.1.1, Fig. 13",
            REPRODUCTION,
            "Observe that λ_max(G_A) (the blue curve) is very close to 0 and hardly increases during the "
            "training process along the whole trajectory.",
            _S3_NETS,
        ),
        Claim(
            "s3.loss_split",
            "the non-monotone loss comes from the u₁ part",
            "§3.4, Fig. 3(b)",
            REPRODUCTION,
            "Hence, the non-monotonicity of the loss is mainly due to the u₁-component of D, and the rest "
            "part is optimized in the classical regime (step size well below 2/(the operator norm)) and "
            "hence steadily decreases.",
            _S3_NETS,
        ),
        Claim(
            "s3.a32",
            "the first-order approximation (A3.2)",
            "§3.3, App. D.1.3, Fig. 15",
            REPRODUCTION,
            "Observe that in the progressive sharpening phase, the first order approximation is almost the "
            "same as the actual gradient update; while in the EOS phase, the first order approximation is "
            "still close to the actual gradient most of the time.",
            _S3_NETS,
        ),
        Claim(
            "s3.a35",
            "u₁ stays stable (A3.5)",
            "§3.3, App. D.1.5, Fig. 17",
            REPRODUCTION,
            "In Figure 17, we can see that over a long training time the similarity of u₁ with its "
            "initialization is still larger than at least 0.98.",
            _S3_NETS,
        ),
        Claim(
            "s3.anomalies",
            "A3.1's exceptions are of three kinds",
            "App. B.2",
            REPRODUCTION,
            "However, as shown in the experiments in this section (see Figure 5, 6, 7, 8, 9, 10), anomaly "
            "points exist during the training process. […] We divide them into three kinds. At the time "
            "that ‖A‖ changes its trend […] When the sharpness oscillates more frequently […] In late "
            "training phases",
            _S3_NETS,
        ),
        Claim(
            "b14.gaussian",
            "Gaussian data: faster convergence, less sharpening",
            "App. B.1.4, Fig. 11",
            REPRODUCTION,
            "training standard Gaussian distributed dataset converges faster than that with CIFAR-10 "
            "dataset, hence the degree of progressive sharpening of the former is much smaller",
            _LINEAR,
        ),
        Claim(
            "b14.labels",
            "labels along K's top eigenvector sharpen less than along a bottom one",
            "App. B.1.4, Fig. 12",
            REPRODUCTION,
            "The result shows that when the label vector is aligned with the top eigenvector, the degree of "
            "progressive sharpening is relatively small, and when the label vector is aligned with a bottom "
            "eigenvector, the degree of progressive sharpening is relatively large.",
            _LINEAR,
        ),
        Claim(
            "d23.large_init",
            "PS and the EoS at a 10× larger first-layer init, W barely moving",
            "App. C.4, D.2.3, Fig. 22",
            REPRODUCTION,
            "we find that even when W changes slightly (several orders of magnitude smaller than its "
            "initialization), PS and EOS still happen with a not so small learning rate η.",
            _LINEAR,
        ),
        Claim(
            "d3.freezing",
            "freezing layers: PS slower, oscillations weaker",
            "App. D.3, Figs. 23–24",
            REPRODUCTION,
            "In our experiment, while the sharpness is still calculated by the gradient of all "
            "parameters, we freeze some of the layers in the training process. The experimental results "
            "show that the more layers we freeze, the slower progressive sharpening happens and the "
            "weaker the oscillation of the sharpness is",
            "a deep fully connected tanh network with its first layers frozen, trained by full-batch GD",
        ),
        Claim(
            "d14.gd_flow",
            "GD follows gradient flow during PS (A3.3)",
            "App. D.1.4, Fig. 16",
            REPRODUCTION,
            "In Assumption 3.3, we assume that in the progressive sharpening phase, the gradient descent "
            "trajectory is close to the gradient flow trajectory.",
            _LINEAR,
        ),
        Claim(
            "d22.e_hat",
            "‖Ê‖ small, shrinking with the width (A4.3)",
            "App. D.2.2, Fig. 20",
            REPRODUCTION,
            "the values of ‖Ê‖ are overall quite small (despite the fact that W changes non-trivially in our "
            "experiments) and decreases as m becomes larger",
            _LINEAR,
        ),
        Claim(
            "d21.spectrum",
            "K's top eigenvalue an outlier, shrunk by mean subtraction",
            "App. D.2.1, Figs. 18–19",
            REPRODUCTION,
            "almost all the ratios are close to 1 […] If we further consider a mean-subtracted version of "
            "this subset of CIFAR-10 (See Figure 19), we can reduce the ratio",
            "the data matrix K = XᵀX/n",
        ),
        Claim(
            "e23.cond20",
            "condition (20) holds for the large eigen-directions and fails for small ones",
            "App. E.2.3, Fig. 26",
            REPRODUCTION,
            "We can see that (20) holds for [range lost in the text] during the first hundred iterations "
            "of the training process. However, for very large i, the eigenvectors corresponding to very "
            "small eigenvalues may change quickly and (20) does not hold.",
            _LINEAR,
        ),
        Claim(
            "c.catapult",
            "the catapult window 2 < ηλ₀ < 4 on one data point",
            "§2 (Lewkowycz et al.), App. C",
            # another paper's theorem, which this paper only cites (A3.4); data-free (one point)
            CONSISTENCY,
            "Lewkowycz et al. [2020]: the large learning rate phase of deep learning: the catapult "
            "mechanism.",
            "a wide two-layer linear net on one data point",
        ),
    )
}


def claim(claim_id: str) -> Claim:
    """The claim ``claim_id``; a KeyError names the known ids."""
    if claim_id not in CLAIMS:
        raise KeyError(f"no claim {claim_id!r}: known claims are {sorted(CLAIMS)}")
    return CLAIMS[claim_id]
