"""Launch settings in the plan language: layering per server and mode, and what the group allows."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airflow_provider_drs.plans.launch import GroupLaunch, launch_problems, settings_for

DB, WEB1, WEB2 = "s-3578f52ef3bdd58b4", "s-3c1730a9e0771ea14", "s-3d75cdc0d9a28a725"
PROD, DRILL = "subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"


def test_drill_overrides_and_server_settings_layer_in_order():
    launch = GroupLaunch.model_validate({
        "subnet": PROD, "copy_tags": True, "drill": {"subnet": DRILL},
        "servers": {WEB2: {"instance_type": "m5.large", "right_sizing": "NONE", "drill": {"instance_type": "t3.small"}}},
    })
    assert settings_for(launch, WEB1, "recovery") == {"subnet": PROD, "copy_tags": True}
    assert settings_for(launch, WEB1, "drill") == {"subnet": DRILL, "copy_tags": True}
    assert settings_for(launch, WEB2, "recovery")["instance_type"] == "m5.large"
    assert settings_for(launch, WEB2, "drill") == {"subnet": DRILL, "copy_tags": True, "instance_type": "t3.small",
                                                   "right_sizing": "NONE"}
    assert settings_for(None, WEB1, "drill") == {}


def test_a_drill_override_cannot_nest_another_drill():
    with pytest.raises(ValidationError, match="drill"):
        GroupLaunch.model_validate({"drill": {"drill": {"subnet": DRILL}}})


def test_a_fixed_address_is_fine_on_a_one_server_group_and_copy_on_any():
    fixed = GroupLaunch.model_validate({"private_ip": "10.0.1.20", "launch_into_instance": "i-0123456789abcdef0"})
    assert list(launch_problems(fixed, [DB], tag_selected=False)) == []
    assert len(list(launch_problems(fixed, [WEB1, WEB2], tag_selected=False))) == 2
    copy = GroupLaunch.model_validate({"private_ip": "copy"})
    assert list(launch_problems(copy, [], tag_selected=True)) == []


def test_a_drill_right_sizing_conflicts_with_the_production_type():
    launch = GroupLaunch.model_validate({"instance_type": "m5.large", "right_sizing": "NONE",
                                         "drill": {"right_sizing": "BASIC"}})
    problems = list(launch_problems(launch, [DB], tag_selected=False))
    assert [p[0] for p in problems] == [("instance_type",)]
    assert "right_sizing BASIC" in problems[0][1]


def test_an_instance_type_needs_right_sizing_none_set():
    launch = GroupLaunch.model_validate({"drill": {"instance_type": "t3.small"}})
    problems = list(launch_problems(launch, [DB], tag_selected=False))
    assert problems == [(("drill", "instance_type"), "instance_type needs right_sizing: NONE beside it",
                         "DRS's default right-sizing (BASIC) picks the type itself; add right_sizing: NONE")]
    fine = GroupLaunch.model_validate({"right_sizing": "NONE", "drill": {"instance_type": "t3.small"}})
    assert list(launch_problems(fine, [DB], tag_selected=False)) == []
