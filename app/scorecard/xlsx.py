"""The scorecard as an XLSX workbook: the ranking with a bar chart of the weighted scores, then
one sheet per indicator. Numbers are numbers (rates and scores with four places)."""

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from app.documents.spreadsheet import cell, column_widths
from app.enum_labels import label
from app.enums import Language
from app.i18n import N_, gettext
from app.scorecard.schemas import UnitScorecardRead, four_places

RATE_FORMAT = "0.0000"

_RANKING = N_("Ranking")
_UNIT_CODE = N_("Unit code")
_UNIT = N_("Unit")
_SCORE = N_("Weighted score")
_RANK = N_("Rank")
_NUMERATOR = N_("Numerator")
_DENOMINATOR = N_("Denominator")
_RATE = N_("Rate")
_TITLE = N_("Unit scorecard {year}")
_FILENAME = N_("Unit scorecard-{year}.xlsx")


def filename(card: UnitScorecardRead, lang: Language) -> str:
    return gettext(_FILENAME, lang).format(year=card.year)


def _number(value: Decimal | None) -> Decimal | str:
    return "" if value is None else four_places(value)


def _fill(sheet: Worksheet, header: list[str], rows: list[list[object]]) -> None:
    sheet.append(header)
    for row in rows:
        sheet.append([cell(v) for v in row])
    for column, width in enumerate(column_widths(header, rows), start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = width
    for row_cells in sheet.iter_rows(min_row=2):
        for c in row_cells:
            if isinstance(c.value, (Decimal, float)):
                c.number_format = RATE_FORMAT
    sheet.freeze_panes = "A2"


def render(card: UnitScorecardRead, lang: Language) -> bytes:
    def t(message: str) -> str:
        return gettext(message, lang)

    book = Workbook()
    ranking = book.active
    assert ranking is not None
    ranking.title = t(_RANKING)
    # Sheet order follows the ranking (rank, then code): the chart reads the score column.
    _fill(
        ranking,
        [t(_RANK), t(_UNIT_CODE), t(_UNIT), t(_SCORE)],
        [
            [u.rank if u.rank is not None else "", u.code, u.name, _number(u.score)]
            for u in card.units
        ],
    )
    if card.units:
        chart = BarChart()
        chart.type = "bar"
        chart.title = t(_TITLE).format(year=card.year)
        chart.y_axis.title = t(_SCORE)
        rows = len(card.units) + 1
        chart.add_data(
            Reference(ranking, min_col=4, min_row=1, max_row=rows), titles_from_data=True
        )
        chart.set_categories(Reference(ranking, min_col=3, min_row=2, max_row=rows))
        chart.legend = None
        ranking.add_chart(chart, "F2")
    for position, weight in enumerate(card.weights):
        indicator = weight.indicator
        sheet = book.create_sheet(label(indicator, lang)[:31])
        rows_of: list[list[object]] = []
        for unit in card.units:
            value = unit.indicators[position]
            assert value.indicator is indicator
            rows_of.append(
                [
                    unit.code,
                    unit.name,
                    value.numerator,
                    value.denominator,
                    _number(value.rate),
                    value.rank if value.rank is not None else "",
                ]
            )
        _fill(
            sheet,
            [t(_UNIT_CODE), t(_UNIT), t(_NUMERATOR), t(_DENOMINATOR), t(_RATE), t(_RANK)],
            rows_of,
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
