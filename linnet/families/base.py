"""What a model family is: the protocols an engine and its observations follow, and the family's
capabilities, declared once (:class:`Capabilities`) and looked up by name in the registry
(:mod:`linnet.families`), so that no code outside a family's own module branches on its name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Observation(Protocol):
    """What ``engine.observe()`` returns: at least these (a family adds its own fields, e.g. the
    linear net's ``lambda_tilde``; :attr:`Capabilities.step_fields` names them)."""

    loss: float
    a_norm2: float
    fd: float
    D: Any
    F: Any
    d_top: Any
    f_top: Any
    carried: dict


class Engine(Protocol):
    """One family's exact GD state on fixed data (:func:`linnet.loop.run`'s needs; the operators
    the observers use are ``gram_matvec``/``gram_update``, ``ga_matvec``/``ga_norm``,
    ``hessian_matvec``, and the linear net's ``e_hat_matvec``/``e_hat_update``)."""

    xp: Any
    dtype: Any
    dim: int
    k: int
    CARRY: int
    EXACT_GA: bool  # ‖G_A‖ exactly by ``ga_norm(obs)``; False: tracked on ``ga_matvec``

    def observe(self) -> Any: ...
    def step(self, eta: float, obs: Any, carry: list) -> bool: ...


class Family(Protocol):
    """A description of a network and its start (:class:`linnet.LinearNet`, :class:`linnet.MLP`,
    ``linnet.torch.TorchModel``): ``family`` its registry name, ``build`` its engine on data,
    ``initial_sharpness`` its Λ(0)."""

    family: str

    def build(self, X: Any, Y: Any, *, spectrum: Any, dtype: Any, xp: Any, top_k: int) -> Built: ...
    def initial_sharpness(self, X: Any, Y: Any) -> float: ...


@dataclass(frozen=True)
class SweepModel:
    """How a sweep spec with ``model = name`` builds its network: ``defaults`` (the keys the spec
    gains, and their values unless given), ``keys`` (the model's own keys a spec may set), and
    ``run(spec, X, Y, spectrum, jit)`` → ``(model, X_in, train_kwargs)``. ``batchable``: runs may
    advance together in :func:`linnet.train_batch`. ``compilable``: ``jit=True`` runs them on the
    compiled loop (:mod:`linnet.jit`); the sweep's automatic choice weighs their work."""

    name: str
    run: Callable[..., tuple[Any, Any, dict]]
    defaults: dict = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    batchable: bool = False
    compilable: bool = False


def _numbered_layers(specific: dict, which: str) -> tuple:
    names = sorted(
        (k for k in specific if k.startswith(f"W{which}_")), key=lambda k: int(k.rsplit("_", 1)[1])
    )
    return tuple(specific[k] for k in names)


def _described(config: dict, family: str) -> str:
    return config.get("model_description", family)


@dataclass(frozen=True)
class Capabilities:
    """A family's capabilities, declared once.

    ``name``: ``Trajectory.family``; ``supports_flow``: gradient flow (``method="flow"``);
    ``measures_e_hat``: Ê = G − κ_G K is defined (the linear net's, eq. 10); ``default_ga_every``:
    the ‖G_A‖ cadence when ``train(ga_every=None)``; ``step_fields``: its own every-step fields,
    read from each observation; ``observed_fields``: its own observers' arrays — both go to
    ``Trajectory.specific``; ``layers(specific, which)``: the layers at "0" (start) or "_final";
    ``describe(config)``: the model in a summary line; ``output_norm``: ‖A‖²'s label there;
    ``sweep_models``: the sweep's ``model`` names it builds; ``linear_theory``: the two-layer
    linear net's statements (§4, App. C) and its exact replay apply (``theory``); ``rebuild(traj)``:
    the family object that reruns a saved trajectory from its file, or None where the file cannot
    say (a PyTorch module)."""

    name: str
    supports_flow: bool = False
    measures_e_hat: bool = False
    default_ga_every: int = 1
    step_fields: tuple[str, ...] = ()
    observed_fields: tuple[str, ...] = ()
    layers: Callable[[dict, str], tuple] = _numbered_layers
    describe: Callable[[dict, str], str] = _described
    output_norm: str = "|A|^2"
    sweep_models: tuple[SweepModel, ...] = ()
    linear_theory: bool = False
    rebuild: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Built:
    """A family on data: its ``engine``, the ``config`` entries that describe the model, and
    ``specific()``, the family's own arrays (initial and final weights) once the run is over."""

    engine: Any
    config: dict
    specific: Callable[[], dict]
    family: str
    frozen: tuple[int, ...] = ()

    @property
    def capabilities(self) -> Capabilities:
        from . import capabilities

        return capabilities(self.family)

    @property
    def measures_e_hat(self) -> bool:
        return self.capabilities.measures_e_hat

    @property
    def supports_flow(self) -> bool:
        return self.capabilities.supports_flow
