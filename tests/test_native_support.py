"""Where botocore predates DRS native recovery plans (the oldest Airflow's image), what needs them
refuses with what to do; where it has them, nothing is in the way."""

from __future__ import annotations

import botocore
import botocore.session
import pytest

from airflow_provider_drs.drs_api_support import (DrsNativePlansUnsupported, FIRST_BOTOCORE,
                                                  has_native_recovery_plans, require_native_recovery_plans)


def test_the_check_agrees_with_the_installed_drs_model():
    operations = botocore.session.get_session().get_service_model("drs").operation_names
    assert has_native_recovery_plans() == ("CreateRecoveryPlan" in operations)
    version = tuple(int(part) for part in botocore.__version__.split(".")[:3])
    assert has_native_recovery_plans() == (version >= tuple(int(p) for p in FIRST_BOTOCORE.split(".")))


def test_what_needs_native_plans_says_why_it_cannot_run():
    if has_native_recovery_plans():
        require_native_recovery_plans("drs-plan export-native")  # nothing in the way
        return
    with pytest.raises(DrsNativePlansUnsupported) as raised:
        require_native_recovery_plans("drs-plan export-native")
    message = str(raised.value)
    assert "drs-plan export-native" in message and botocore.__version__ in message
    assert f"botocore>={FIRST_BOTOCORE}" in message
