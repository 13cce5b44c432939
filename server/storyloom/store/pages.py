"""Keyset paging shared by the list queries: newest first, resumed after the (time, id) of a page's last row."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

SelectT = TypeVar("SelectT", bound=Select[Any])


def newest_first(query: SelectT, time_column: InstrumentedAttribute[dt.datetime], id_column: InstrumentedAttribute[str],
                 after: tuple[dt.datetime | BindParameter[Any], str | BindParameter[Any]] | None,
                 limit: int | BindParameter[Any]) -> SelectT:
    """`query` ordered by (time, id) descending, limited to `limit` rows that come after `after` (values, or
    `bindparam`s for a statement built once)."""
    if after is not None:
        time, last_id = after
        query = query.where(or_(time_column < time, and_(time_column == time, id_column < last_id)))
    return query.order_by(time_column.desc(), id_column.desc()).limit(limit)
