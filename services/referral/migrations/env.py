from hub.migrations import run_env
from services.referral.tables import metadata

run_env(metadata)
