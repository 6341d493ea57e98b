"""Live operations: the centre's detector feeds in, the network's state estimated and predicted on the dynamic
engine, incidents found in the feeds, and responses ranked for the operator.

>>> from mobility.live import ReplaySource, FeedGuard, LiveModel, read_stations       # doctest: +SKIP
>>> model = LiveModel(net, demand, stations)                                          # doctest: +SKIP
>>> for now, batch in ReplaySource(["feed.xml"], stations):                           # doctest: +SKIP
...     report = model.update(now, guard.check(batch), silent=guard.silent(now))
"""

from .feeds import COLUMNS, FeedBatch, FeedError, StationTable, read_feed, read_parking_occupancy, read_stations
from .loop import LiveResult, prediction_quality, run_live, steps_table
from .model import Detection, LiveModel, StepReport
from .record import RecordedFeed, record_feed
from .sources import FeedGuard, FolderWatcher, ReplaySource

__all__ = ["COLUMNS", "Detection", "FeedBatch", "FeedError", "FeedGuard", "FolderWatcher", "LiveModel",
           "LiveResult", "RecordedFeed", "ReplaySource", "StationTable", "StepReport", "prediction_quality", "read_feed",
           "read_parking_occupancy", "read_stations", "record_feed", "run_live", "steps_table"]
