from gateway.tables import metadata
from hub.migrations import run_env

run_env(metadata)
