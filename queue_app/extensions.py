"""Flask extensions, created unbound and initialised in create_app."""

from flask_babel import Babel
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from .models import Base
from .ratelimit import Limiter

# Models use our own typed Base; Flask-SQLAlchemy provides the session and engines.
# Sessions live for one request or job: objects need not be reloaded after commit.
db = SQLAlchemy(metadata=Base.metadata, session_options={"expire_on_commit": False})
socketio = SocketIO()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are checked only by the views they decorate (no hook on every request);
# sign-in limits are queue_app.ratelimit.SignInLimits.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
