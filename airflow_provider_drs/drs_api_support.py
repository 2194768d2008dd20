"""Which DRS operations the installed botocore knows. DRS's native recovery plans
(CreateRecoveryPlan, StartRecoveryPlanExecution, ...) arrived in botocore's DRS model long after the
rest; an Airflow image frozen before then (the oldest Airflow this provider supports pins such a
botocore) cannot call them, and what needs them says so instead of failing on an unknown method."""

from __future__ import annotations

import functools

from airflow_provider_drs.exceptions import DrsProviderError

NATIVE_PLAN_OPERATION = "StartRecoveryPlanExecution"
FIRST_BOTOCORE = "1.43.73"  # the first botocore whose DRS model has recovery plans


class DrsNativePlansUnsupported(DrsProviderError):
    """The installed botocore has no DRS recovery-plan API."""


@functools.cache
def has_native_recovery_plans() -> bool:
    import botocore.session

    model = botocore.session.get_session().get_service_model("drs")
    return NATIVE_PLAN_OPERATION in model.operation_names


def require_native_recovery_plans(what: str) -> None:
    """Raise, naming ``what`` needed the API and how to get it, when botocore lacks it."""
    if has_native_recovery_plans():
        return
    import botocore

    raise DrsNativePlansUnsupported(
        f"{what} needs DRS native recovery plans (CreateRecoveryPlan, StartRecoveryPlanExecution, ...), "
        f"which the installed botocore {botocore.__version__} does not know (botocore has them from "
        f"{FIRST_BOTOCORE}). Upgrade boto3 and botocore (and aiobotocore, which pins botocore) in the Airflow "
        f"image: pip install -U 'botocore>={FIRST_BOTOCORE}' boto3 aiobotocore.")
