from hub.migrations import run_env
from services.notification.tables import metadata

run_env(metadata)
