"""Neural ordinary differential equations (Chen et al., 2018), solved by torchdiffeq: a network f gives
dz/dt = f(t, z), and a solver integrates it. Backpropagation goes through the solver's operations, or
(`adjoint`) through a second ODE solved backwards in time, which keeps no activations of the forward
solve: memory stays flat however many steps the solver takes. Every ODE block counts the evaluations
of f per forward solve, logged per epoch as `<stage>/nfe` (an adaptive solver's cost grows as training
makes the dynamics stiffer)."""

import torch
from torch import nn

from archtrain.errors import ArchtrainError
from archtrain.models.blocks import activation as make_activation
from archtrain.models.protocol import Network
from archtrain.models.statistics import Tally

ADAPTIVE = ("dopri5", "bosh3", "adaptive_heun", "dopri8")  # step sizes chosen by the error tolerances
FIXED = ("euler", "midpoint", "rk4")  # steps of `solver_step`


class Dynamics(nn.Module):
    """f(t, z): an MLP on the state with the time appended, `layers` hidden layers of `hidden`;
    `autonomous` dynamics read the state alone, f(z)."""

    def __init__(self, size: int, hidden: int, layers: int = 2, activation: str = "tanh", autonomous: bool = False):
        super().__init__()
        self.autonomous = autonomous
        parts, width = [], size + (not autonomous)
        for _ in range(layers):
            parts += [nn.Linear(width, hidden), make_activation(activation)]
            width = hidden
        self.net = nn.Sequential(*parts, nn.Linear(width, size))
        self.calls = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(z if self.autonomous else torch.cat([z, t.to(z).expand(len(z), 1)], dim=1))


class ODEBlock(nn.Module):
    """Integrates `dynamics` from z at times[0] to each later time; returns (len(times), batch, size)."""

    def __init__(
        self,
        dynamics: Dynamics,
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        solver_step: float = 0.1,
        adjoint: bool = False,
    ):
        super().__init__()
        if solver not in ADAPTIVE + FIXED:
            raise ArchtrainError(f"model.solver={solver}: choose from {', '.join(ADAPTIVE + FIXED)}")
        self.dynamics, self.solver, self.adjoint = dynamics, solver, adjoint
        self.rtol, self.atol, self.solver_step = rtol, atol, solver_step
        self.tally = Tally()

    def forward(self, z: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        import torchdiffeq  # the neural-ODE extra, loaded only by these models

        solve = torchdiffeq.odeint_adjoint if self.adjoint else torchdiffeq.odeint
        options = {"step_size": self.solver_step} if self.solver in FIXED else None
        before = self.dynamics.calls
        states = solve(self.dynamics, z, times, rtol=self.rtol, atol=self.atol, method=self.solver, options=options)
        self.tally.add("nfe", torch.tensor(float(self.dynamics.calls - before)), 1, self.training)
        return states

    def statistics(self, training: bool) -> dict[str, torch.Tensor]:
        return self.tally.pop(training)


def ode_block(size: int, hidden: int, layers: int, activation: str, autonomous: bool = False, **solver) -> ODEBlock:
    return ODEBlock(Dynamics(size, hidden, layers, activation, autonomous), **solver)


class ODENet(Network):
    """A continuous-depth classifier (Chen et al.'s ODE-Net, as an MLP): a linear embedding of the
    flattened input, an ODE block integrated from t=0 to `integration_time` in place of a stack of
    residual layers, normalization, and the head."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        width: int = 64,
        hidden: int = 64,
        layers: int = 2,
        activation: str = "tanh",
        integration_time: float = 1.0,
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        solver_step: float = 0.1,
        adjoint: bool = False,
    ):
        super().__init__()
        self.embed = nn.Linear(in_features, width)
        self.block = ode_block(
            width,
            hidden,
            layers,
            activation,
            autonomous=True,
            solver=solver,
            rtol=rtol,
            atol=atol,
            solver_step=solver_step,
            adjoint=adjoint,
        )
        self.register_buffer("times", torch.tensor([0.0, integration_time]), persistent=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.block(self.embed(x.flatten(1)), self.times)[-1])


class TrajectoryODE(Network):
    """Learns the autonomous dynamics dz/dt = f(z) of an observed state (f does not read the clock, so
    it holds at any time, not only over the horizon it was fitted on): from a state (batch, in_features) it
    integrates f to the next `horizon` sample times, `time_step` apart, and gives the states there,
    flattened (batch, horizon * in_features), as features. When the task asks for exactly those
    values (data=spiral: the next states), the head is the fixed identity, so the fit is f's alone;
    otherwise it is a trainable linear map of the trajectory."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        horizon: int = 10,
        time_step: float = 0.025,
        hidden: int = 64,
        layers: int = 2,
        activation: str = "tanh",
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        solver_step: float = 0.025,
        adjoint: bool = False,
    ):
        super().__init__()
        self.block = ode_block(
            in_features,
            hidden,
            layers,
            activation,
            autonomous=True,
            solver=solver,
            rtol=rtol,
            atol=atol,
            solver_step=solver_step,
            adjoint=adjoint,
        )
        self.register_buffer("times", torch.arange(horizon + 1) * time_step, persistent=False)
        self.reset_head(num_classes)
        if num_classes == self.num_features:
            with torch.no_grad():
                self.head.weight.copy_(torch.eye(num_classes))
                self.head.bias.zero_()
            self.head.requires_grad_(False)

    @property
    def num_features(self) -> int:
        return (len(self.times) - 1) * self.block.dynamics.net[-1].out_features

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return self.block(z, self.times)[1:].transpose(0, 1).flatten(1)

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """The learned dz/dt at states z (batch, in_features)."""
        return self.block.dynamics(None, z)
