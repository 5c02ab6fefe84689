# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the rollback report: a text sparkline of a latency series (app_watch's ``endpoints[].series``)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.almafrica.rollback.plugins.module_utils.web.watch import sparkline as _sparkline


def sparkline(values, width=60, low=None, high=None):
    """``[4.1, 3.9, 2000, null]`` -> ``▁▁█·``: see module_utils/web/watch.py ``sparkline``."""
    if values is None:
        return u""
    if not isinstance(values, (list, tuple)):
        raise AnsibleFilterError("sparkline expects a list of numbers (null for no answer), got %s"
                                 % type(values).__name__)
    try:
        numbers = [None if v is None else float(v) for v in values]
    except (TypeError, ValueError):
        raise AnsibleFilterError("sparkline expects a list of numbers (null for no answer), got %r" % (values[:5],))
    return _sparkline(numbers, width=int(width), low=low, high=high)


class FilterModule(object):
    def filters(self):
        return {"sparkline": sparkline}
