from datetime import UTC, datetime, timedelta

from vigil.apps.schedule import ScheduleWindow, frame_clock, schedule_active

MON = datetime(2024, 1, 1)  # a Monday


def at(day_offset, hh, mm=0):
    return MON + timedelta(days=day_offset, hours=hh, minutes=mm)


def test_daytime_window():
    w = ScheduleWindow(days=["mon", "fri"], start="08:00", end="18:30")
    assert [w.active(at(0, h, m)) for h, m in [(7, 59), (8, 0), (18, 29), (18, 30)]] == [
        False,
        True,
        True,
        False,
    ]
    assert not w.active(at(1, 12)) and w.active(at(4, 12))


def test_overnight_window_belongs_to_the_start_day():
    w = ScheduleWindow(days=["fri"], start="22:00", end="06:00")
    assert w.active(at(4, 23)) and w.active(at(5, 5, 59))  # fri 23:00, sat 05:59
    assert not w.active(at(5, 6)) and not w.active(at(5, 23))  # sat 06:00, sat 23:00
    assert not w.active(at(4, 3))  # fri 03:00 belongs to thursday's night


def test_whole_day_and_empty_schedule():
    assert ScheduleWindow(days=["sat"]).active(at(5, 23, 59))
    assert ScheduleWindow(days=["sat"], start="10:00", end="10:00").active(at(5, 3))
    assert schedule_active([], at(0, 3))


def test_frame_clock():
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert frame_clock(start, 90.5) == datetime(2024, 1, 1, 12, 1, 30, 500000, tzinfo=UTC)
    before = datetime.now()
    assert before <= frame_clock(None, 1234.0) <= datetime.now()
