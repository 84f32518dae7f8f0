"""Python's cyclic garbage collector held off for the length of one large set-based update."""

import functools
import gc


def collection_paused(func):
    """Run ``func`` with the cyclic garbage collector off, then on again as it was.

    An update of 10,000 KPIs at national scale 10 makes millions of short-lived objects (rows, series, explanations)
    and no reference cycle of its own; counting them, the collector ran 870 times during it, six of them full passes
    over every live object: 1.15 s of a 5.3 s update. Reference counting frees what the update drops as before; a
    cycle made meanwhile waits for the next collection after it. The switch is the process's: another thread's
    work runs without the collector as long as this does, which delays its cycles, nothing more.
    """

    @functools.wraps(func)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return paused
