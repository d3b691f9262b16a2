"""Progress display of a campaign: one bar for the whole campaign and one for the current cell.

Executors talk to a progress object through four calls (``start``, ``cell_started``,
``cell_finished``, ``stop``); :class:`NullProgress` does nothing (scripts, ``--json``, tests) and
:class:`CampaignProgress` draws rich bars. ``cell_started`` returns the object handed to the cell
runner as its ``progress`` argument: a :class:`CellProgress`, the runner's
``progress(event, info)`` callback.
"""

from __future__ import annotations

from typing import Any

from inferlca.campaign.spec import Cell


class NullProgress:
    """Progress that shows nothing."""

    def start(self, total_cells: int) -> None:
        pass

    def cell_started(self, cell: Cell) -> Any:
        return None

    def cell_finished(self, cell: Cell, outcome: str, reason: str | None = None) -> None:
        pass

    def running(self, labels: list[str]) -> None:
        """The cells running now elsewhere (Ray executor), for the overall bar's text."""

    def stop(self) -> None:
        pass


class CellProgress:
    """The per-cell bar, handed to the cell runner as its ``progress(event, info)`` callback.

    It follows the runner's events (see :data:`inferlca.loadgen.runner.Progress`): the bar counts
    repetitions, and its text shows the phase and the samples done in the current repetition.

    Attributes:
        progress: the rich ``Progress`` drawing the bars.
        task_id: this cell's task in it.
    """

    def __init__(self, progress: Any, task_id: Any, label: str) -> None:
        self.progress = progress
        self.task_id = task_id
        self.label = label
        self.repetition = 0

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "repetition":
            self.repetition = int(info.get("index", 0))
            self.progress.update(self.task_id, completed=self.repetition,
                                 total=info.get("total"),
                                 description=f"  {self.label} rep {self.repetition + 1}")
        elif event == "phase":
            self.progress.update(self.task_id, description=f"  {self.label} rep "
                                 f"{self.repetition + 1} {info.get('name', '')}")
        elif event == "samples":
            self.progress.update(self.task_id, description=f"  {self.label} rep "
                                 f"{self.repetition + 1} {info.get('n')}/{info.get('total')} samples")
        elif event == "cooldown":
            self.progress.update(self.task_id, description=f"  {self.label} cool-down "
                                 f"{info.get('seconds', 0):g} s")
        elif event == "done":
            task = self.progress.tasks[[t.id for t in self.progress.tasks].index(self.task_id)]
            self.progress.update(self.task_id, completed=task.total)


class CampaignProgress(NullProgress):
    """Rich bars: the whole campaign (cells) and the cell being run."""

    def __init__(self, console: Any = None, title: str = "campaign") -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.title = title
        self._overall: Any = None
        self._cell: Any = None
        self.failed = 0

    def start(self, total_cells: int) -> None:
        self.progress.start()
        self._overall = self.progress.add_task(f"{self.title}: cells", total=max(total_cells, 0))

    def cell_started(self, cell: Cell) -> CellProgress:
        if self._cell is not None:
            self.progress.remove_task(self._cell)
        label = f"{cell.cell_id} {cell.describe()}"
        self._cell = self.progress.add_task(f"  {label}", total=cell.spec.repetitions)
        return CellProgress(self.progress, self._cell, label)

    def cell_finished(self, cell: Cell, outcome: str, reason: str | None = None) -> None:
        if outcome == "failed":
            self.failed += 1
            self.progress.console.print(f"[red]cell {cell.cell_id} failed[/red]: {reason}")
        if self._cell is not None:
            self.progress.remove_task(self._cell)
            self._cell = None
        if self._overall is not None:
            self.progress.advance(self._overall)

    def running(self, labels: list[str]) -> None:
        if self._overall is None:
            return
        text = f"{self.title}: cells"
        if labels:
            shown = ", ".join(labels[:3]) + (f" +{len(labels) - 3}" if len(labels) > 3 else "")
            text += f" (running: {shown})"
        self.progress.update(self._overall, description=text)

    def stop(self) -> None:
        self.progress.stop()
