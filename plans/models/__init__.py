from .api import *  # noqa: F403
from .history import *  # noqa: F403
from .kpis import *  # noqa: F403
from .milestones import *  # noqa: F403
from .plans import *  # noqa: F403
from .snapshots import *  # noqa: F403
from .teams import *  # noqa: F403
from .units import *  # noqa: F403
