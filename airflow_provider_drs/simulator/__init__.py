"""Local AWS endpoint for DR rehearsal: DRS and SSM Automation served here, every other service
forwarded to an embedded moto. ``drs-sim serve`` runs it; ``simulator()`` runs it in-process."""

from .control import SimulatorClient, SimulatorError
from .inventory import Inventory, InventoryError, load_inventory
from .server import RunningSimulator, simulator
from .simulation import Control, Simulation

__all__ = ["Control", "Inventory", "InventoryError", "RunningSimulator", "Simulation", "SimulatorClient",
           "SimulatorError", "load_inventory", "simulator"]
