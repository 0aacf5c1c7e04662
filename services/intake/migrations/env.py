from hub.migrations import run_env
from services.intake.tables import metadata

run_env(metadata)
