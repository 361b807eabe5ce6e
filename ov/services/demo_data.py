"""Deterministic, realistic demo data for the billing mirror.

The same seed, account count, month count and day always produce the same rows. Bills
follow today's month (the newest were issued last month, due this month), so some are
pending or overdue near the real date; payments run up to yesterday. A load made on
another day of the same month differs only by the payments made in between.

Always included: the seed guide's example contract (zone Nuevo Laredo, account 8295249,
newest invoice ``ZE40389382``), with at least 24 monthly invoices, paid, pending and
overdue ones among them, real and estimated readings, payments, and no portal user.

Speed: rows are plain tuples built in batches of accounts, with pre-assigned ids, and
written in one transaction per batch: SQLite gets the compiled Core ``insert()`` through
the driver's ``executemany``; PostgreSQL gets ``COPY ... FROM STDIN``.
"""

from __future__ import annotations

import calendar
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Table, insert, select, text

from ov.extensions import db
from ov.models import (
    Account,
    EventAuthor,
    Invoice,
    InvoiceLine,
    Payment,
    Reading,
    ServiceRequest,
    ServiceRequestEvent,
    ServiceRequestStatus,
    Zone,
)
from ov.services import service_requests
from ov.services.office import BANKS
from ov.services.office import STORES as STORE_NAMES

DEFAULT_ACCOUNTS = 300
DEFAULT_MONTHS = 24
DEFAULT_SEED = 2019
BATCH_ACCOUNTS = 1000

#: The seed guide's example contract (step 3 of the registration).
SEED_ZONE_CODE = "NLD"
SEED_ACCOUNT_NUMBER = "8295249"
SEED_INVOICE_NUMBER = "ZE40389382"
SEED_HOLDER = "Miguel Granados Ylarrañaga"
SEED_MIN_MONTHS = 24

TAX_PERCENT = 16
# Mexico City time has had no daylight saving since 2022: UTC-6 all year.
LOCAL_UTC_OFFSET_HOURS = 6


class DemoDataError(RuntimeError):
    """The demo data cannot be loaded as asked; the message says why."""


@dataclass(frozen=True)
class City:
    name: str
    state: str
    postal_codes: tuple[int, int]
    colonias: tuple[str, ...]


@dataclass(frozen=True)
class ZoneSpec:
    id: int
    code: str
    name: str
    invoice_series: str  # the two letters that start its invoice numbers
    share: int  # relative weight of accounts in the zone
    winter_swing: float  # how much more gas is burnt in January than on average
    cities: tuple[City, ...]

    @property
    def city_list(self) -> str:
        return ", ".join(city.name for city in self.cities)


ZONES: tuple[ZoneSpec, ...] = (
    ZoneSpec(1, "MTY", "Monterrey", "MT", 30, 0.45, (
        City("Monterrey", "Nuevo León", (64000, 64990), (
            "Centro", "Obispado", "Mitras Centro", "Cumbres", "Contry", "Vista Hermosa",
            "Roma", "Buenos Aires", "Independencia", "Chepevera")),
        City("San Nicolás de los Garza", "Nuevo León", (66400, 66499), (
            "Anáhuac", "Las Puentes", "Casa Blanca", "Residencial Anáhuac",
            "Valle del Nogalar")),
        City("Guadalupe", "Nuevo León", (67100, 67199), (
            "Linda Vista", "Contry La Silla", "Valle Soleado", "Rincón de la Sierra")),
        City("San Pedro Garza García", "Nuevo León", (66200, 66299), (
            "Del Valle", "Fuentes del Valle", "Valle de San Ángel", "Santa Engracia")),
        City("Apodaca", "Nuevo León", (66600, 66649), (
            "Centro", "Pueblo Nuevo", "Metroplex", "Villas de San Francisco")),
    )),
    ZoneSpec(2, "SAL", "Saltillo", "SL", 9, 0.5, (
        City("Saltillo", "Coahuila", (25000, 25299), (
            "Centro", "República", "Los Maestros", "Guanajuato", "Mirasierra", "Lourdes",
            "Saltillo 2000")),
        City("Ramos Arizpe", "Coahuila", (25900, 25909), ("Centro", "Manantiales", "Analco")),
    )),
    ZoneSpec(3, SEED_ZONE_CODE, "Nuevo Laredo", SEED_INVOICE_NUMBER[:2], 6, 0.45, (
        City("Nuevo Laredo", "Tamaulipas", (88000, 88299), (
            "Centro", "Madero", "Jardín", "Guerrero", "Campestre", "Viveros",
            "Buenavista", "Infonavit")),
    )),
    ZoneSpec(4, "BJN", "Bajío Norte", "BN", 13, 0.32, (
        City("San Luis Potosí", "San Luis Potosí", (78000, 78399), (
            "Centro", "Tequisquiapan", "Jardín", "Del Valle", "Himno Nacional",
            "Lomas 4a Sección")),
        City("Aguascalientes", "Aguascalientes", (20000, 20399), (
            "Centro", "Jardines de la Asunción", "Bosques del Prado", "San Marcos",
            "Las Américas")),
        City("Zacatecas", "Zacatecas", (98000, 98099), (
            "Centro", "Sierra de Álica", "Lomas del Patrocinio", "Las Colinas")),
    )),
    ZoneSpec(5, "BJS", "Bajío Sur", "BS", 14, 0.25, (
        City("Celaya", "Guanajuato", (38000, 38099), (
            "Centro", "Alameda", "Jardines de Celaya", "Zona de Oro")),
        City("Salamanca", "Guanajuato", (36700, 36799), ("Centro", "Bellavista", "Los Pinos")),
        City("Irapuato", "Guanajuato", (36500, 36699), (
            "Centro", "Jardines de Irapuato", "Las Plazas", "Bernardo Cobos")),
        City("León", "Guanajuato", (37000, 37699), (
            "Centro", "Jardines del Moral", "León Moderno", "San Juan de Dios", "Obregón",
            "Valle del Campestre")),
        City("Silao", "Guanajuato", (36100, 36299), ("Centro", "San Miguel", "Los Ángeles")),
    )),
    ZoneSpec(6, "CDMX", "Ciudad de México", "DE", 20, 0.2, (
        City("Benito Juárez", "Ciudad de México", (3000, 3940), (
            "Del Valle", "Narvarte", "Portales", "Nápoles")),
        City("Coyoacán", "Ciudad de México", (4000, 4980), (
            "Villa Coyoacán", "Santa Úrsula Coapa", "Ciudad Jardín", "Pedregal de Santo Domingo")),
        City("Cuauhtémoc", "Ciudad de México", (6000, 6900), (
            "Roma Norte", "Condesa", "Juárez", "Santa María la Ribera")),
        City("Miguel Hidalgo", "Ciudad de México", (11000, 11950), (
            "Polanco", "Anáhuac", "Tacuba", "Lomas de Chapultepec")),
        City("Gustavo A. Madero", "Ciudad de México", (7000, 7990), (
            "Lindavista", "Industrial", "San Juan de Aragón")),
    )),
    ZoneSpec(7, "TOL", "Toluca", "TL", 8, 0.35, (
        City("Toluca", "Estado de México", (50000, 50299), (
            "Centro", "Santa Ana Tlapaltitlán", "Universidad", "Sector Popular")),
        City("Metepec", "Estado de México", (52140, 52179), (
            "Centro", "La Providencia", "Casa Blanca")),
    )),
)
ZONES_BY_CODE = {zone.code: zone for zone in ZONES}

FIRST_NAMES = (
    "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Francisco", "Alejandro",
    "Roberto", "Fernando", "Ricardo", "Eduardo", "Javier", "Héctor", "Raúl", "Arturo",
    "Sergio", "Manuel", "Óscar", "Daniel", "Jesús", "Andrés", "Gerardo", "Rubén",
    "María", "Guadalupe", "Verónica", "Patricia", "Leticia", "Gabriela", "Claudia",
    "Adriana", "Alejandra", "Rosa María", "Martha", "Laura", "Silvia", "Elizabeth",
    "Norma", "Mónica", "Sofía", "Fernanda", "Ximena", "Mariana", "Ana Luisa", "Lucía",
    "María del Carmen", "Juana", "Diana", "Karla", "Itzel", "Daniela",
)
SURNAMES = (
    "Hernández", "García", "Martínez", "López", "González", "Rodríguez", "Pérez",
    "Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Reyes",
    "Jiménez", "Torres", "Díaz", "Gutiérrez", "Ruiz", "Mendoza", "Aguilar", "Ortiz",
    "Moreno", "Castillo", "Romero", "Álvarez", "Méndez", "Chávez", "Rivera", "Juárez",
    "Ramos", "Domínguez", "Herrera", "Medina", "Castro", "Vargas", "Guzmán", "Velázquez",
    "Muñoz", "Rojas", "Contreras", "Salazar", "Luna", "De la Cruz", "Ortega", "Guerrero",
    "Treviño", "Garza", "Cavazos", "Villarreal", "Elizondo", "Cantú", "Zertuche",
    "Ibarra", "Granados", "Esparza", "Montemayor", "Quintanilla", "Barragán",
)
BUSINESSES = (
    "Tortillería", "Panadería", "Lavandería", "Restaurante", "Taquería", "Cocina Económica",
    "Pastelería", "Tintorería", "Cafetería", "Hotel", "Rosticería", "Baños Públicos",
)
BUSINESS_NAMES = (
    "La Esperanza", "San Judas", "El Güero", "Doña Lupe", "La Guadalupana", "Los Arcos",
    "El Buen Sabor", "La Norteña", "Santa Fe", "El Sol", "La Perla", "Don Chema",
)
STREETS = (
    "Av. Benito Juárez", "Miguel Hidalgo", "José María Morelos", "Ignacio Zaragoza",
    "5 de Mayo", "Independencia", "Ignacio Allende", "Vicente Guerrero", "Mariano Matamoros",
    "Av. Reforma", "Constitución", "Francisco I. Madero", "Venustiano Carranza",
    "Emiliano Zapata", "Lázaro Cárdenas", "Av. Universidad", "Guadalupe Victoria",
    "Nicolás Bravo", "Aquiles Serdán", "Álvaro Obregón", "Av. Revolución", "16 de Septiembre",
    "Leona Vicario", "Josefa Ortiz de Domínguez", "Río Bravo", "Río Nazas", "Pino Suárez",
    "Melchor Ocampo", "Juan Escutia", "Niños Héroes", "Av. Insurgentes", "Calzada del Valle",
    "Paseo de los Leones", "Fresno", "Cedro", "Jacarandas", "Las Palmas", "Laurel",
)
# The places "¿Dónde pagar?" offers (ov/services/office.py); OXXO takes most store payments.
STORES = (STORE_NAMES[0],) * 2 + STORE_NAMES
METER_MAKERS = ("IT", "EL", "AC", "SE")

# Tariffs: fixed monthly charge and distribution price per m3, in 1/10,000 peso.
TARIFFS = {
    "RES": {"fixed": 62_5000, "distribution": 3_4210},
    "COM": {"fixed": 185_0000, "distribution": 2_8750},
}
CONCEPT_FIXED = "Cargo fijo"
CONCEPT_GAS = "Gas natural"
CONCEPT_DISTRIBUTION = "Cargo por distribución"
CONCEPT_LATE_FEE = "Cargo por pago extemporáneo"
LATE_FEE = 45_0000

# Table columns, in the order the row tuples are built.
COLUMNS: dict[str, tuple[str, ...]] = {
    "account": (
        "id", "zone_id", "number", "check_digit", "holder_name", "street", "street_number",
        "colonia", "city", "state", "postal_code", "meter_serial", "tariff_code", "status",
        "created_at",
    ),
    "invoice": (
        "id", "account_id", "zone_id", "number", "issue_date", "period_start", "period_end",
        "due_date", "previous_reading", "current_reading", "reading_type", "consumption_m3",
        "subtotal", "tax", "total", "paid_at", "cfdi_xml",
    ),
    "invoice_line": (
        "id", "invoice_id", "position", "concept", "quantity", "unit", "unit_price", "amount",
    ),
    "reading": ("id", "account_id", "read_on", "value", "reading_type", "source"),
    "payment": (
        "id", "account_id", "invoice_id", "paid_on", "amount", "channel", "channel_name",
        "reference", "status",
    ),
}
TABLES: dict[str, Table] = {
    "account": Account.__table__,
    "invoice": Invoice.__table__,
    "invoice_line": InvoiceLine.__table__,
    "reading": Reading.__table__,
    "payment": Payment.__table__,
}

# Bijections of [0, 10**8): scrambled but unique account and invoice numbers.
NUMBER_SPACE = 10**8
ACCOUNT_MULTIPLIER = 7_368_787  # odd, not a multiple of 5: coprime with 10**8
ACCOUNT_SCRAMBLER = 19_260_817  # odd, not a multiple of 5
INVOICE_MULTIPLIER = 48_271


@dataclass
class LoadResult:
    accounts: int = 0
    invoices: int = 0
    lines: int = 0
    readings: int = 0
    payments: int = 0
    seconds: float = 0.0
    reference_month: date | None = None


def reference_month(today: date | None = None) -> date:
    """The first day of ``today``'s month: the data's "now", stable for a whole month."""
    today = today or date.today()
    return today.replace(day=1)


def check_digit(number: str) -> int:
    """The digit printed after the hyphen (demo rule: weights 2-7, modulo 11)."""
    total = sum(int(digit) * (2 + i % 6) for i, digit in enumerate(reversed(number)))
    return (11 - total % 11) % 11 % 10


def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def price_text(ten_thousandths: int) -> str:
    return f"{ten_thousandths // 10000}.{ten_thousandths % 10000:04d}"


def billing_is_empty(connection: Connection | None = None) -> bool:
    query = select(Account.id).limit(1)
    if connection is not None:
        return connection.execute(query).first() is None
    with db.engine.connect() as conn:
        return conn.execute(query).first() is None


def ensure_zones(connection: Connection) -> None:
    """Insert the zones that are missing (they are reference data, never changed here)."""
    present = set(connection.execute(select(Zone.code)).scalars())
    missing = [
        {"id": z.id, "code": z.code, "name": z.name, "cities": z.city_list}
        for z in ZONES
        if z.code not in present
    ]
    if missing:
        connection.execute(insert(Zone), missing)


@dataclass
class Batch:
    rows: dict[str, list[tuple]]
    accounts: int


class _Generator:
    """Builds the rows, account by account, from one random stream."""

    def __init__(self, seed: int, today: date, months: int, accounts: int, dialect: str):
        self.rng = random.Random(seed)  # nosec B311  # noqa: S311 (reproducible data, not secrets)
        self.anchor = reference_month(today)
        # Payments exist up to yesterday; everything else depends only on the month.
        self.cutoff = today.toordinal()
        self.months = months
        self.accounts = accounts
        self.seed_months = max(months, SEED_MIN_MONTHS)
        self.postgres = dialect == "postgresql"
        self.next_ids = {name: 1 for name in COLUMNS}
        self._iso: dict[int, str] = {}
        self._build_calendar()
        self._build_prices()
        self.zone_weights = [z.share for z in ZONES]
        # The seed's contract is the first account and its newest invoice is its last one.
        seed_newest_invoice_id = self.seed_months
        self.invoice_offset = (
            int(SEED_INVOICE_NUMBER[2:]) - seed_newest_invoice_id * INVOICE_MULTIPLIER
        ) % NUMBER_SPACE
        self.account_offset = 0  # account_number() adds it: find the one that maps id 1
        self.account_offset = (int(SEED_ACCOUNT_NUMBER) - self.account_number(1)) % NUMBER_SPACE

    # -- calendar and prices -------------------------------------------------------------

    def _build_calendar(self) -> None:
        """Billing month ``k`` (0 = oldest, seed_months - 1 = the month before the anchor's).

        Lists are indexed by ``k + 1``; index 0 is the month before the oldest, whose end
        opens the first period.
        """
        n = self.seed_months
        self.month_last: list[int] = []
        self.month_of_year: list[int] = []
        year, month = self.anchor.year, self.anchor.month
        for back in range(n + 1, 0, -1):  # one extra month before the oldest
            y, m = divmod((year * 12 + month - 1) - back, 12)
            m += 1
            self.month_last.append(date(y, m, calendar.monthrange(y, m)[1]).toordinal())
            self.month_of_year.append(m)
        anchor_last = calendar.monthrange(self.anchor.year, self.anchor.month)[1]
        self.anchor_month_last = self.anchor.replace(day=anchor_last).toordinal()

    def _build_prices(self) -> None:
        rng = self.rng
        price = 6_4500
        self.gas_price: list[int] = []
        for _ in range(self.seed_months):
            price = min(8_9000, max(5_2000, price + rng.randint(-2200, 2600)))
            self.gas_price.append(price)
        self.season: dict[int, list[float]] = {}
        for zone in ZONES:
            self.season[zone.id] = [
                1 + zone.winter_swing * math.cos(2 * math.pi * (moy - 1) / 12)
                for moy in range(13)
            ]

    def iso(self, ordinal: int) -> str:
        text_ = self._iso.get(ordinal)
        if text_ is None:
            text_ = self._iso[ordinal] = date.fromordinal(ordinal).isoformat()
        return text_

    def timestamp(self, ordinal: int, local_minutes: int) -> str:
        """A UTC timestamp as each database reads it, from a local date and minute of day."""
        minutes = local_minutes + LOCAL_UTC_OFFSET_HOURS * 60
        ordinal += minutes // 1440
        minutes %= 1440
        clock = f"{minutes // 60:02d}:{minutes % 60:02d}:00"
        if self.postgres:
            return f"{self.iso(ordinal)} {clock}+00"
        return f"{self.iso(ordinal)} {clock}.000000"

    def account_number(self, account_id: int) -> int:
        """A scrambled, unique number for each id: affine map, digits reversed, affine again."""
        step = f"{account_id * ACCOUNT_MULTIPLIER % NUMBER_SPACE:08d}"[::-1]
        return (int(step) * ACCOUNT_SCRAMBLER + self.account_offset) % NUMBER_SPACE

    def take_id(self, table: str) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + 1
        return value

    # -- people and places ---------------------------------------------------------------

    def person(self) -> str:
        rng = self.rng
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"

    def address(self, zone: ZoneSpec) -> tuple[str, str, str, str, str, str]:
        rng = self.rng
        city = rng.choice(zone.cities)
        number = str(rng.randint(1, 4999))
        roll = rng.random()
        if roll < 0.08:
            number += f" Int. {rng.randint(1, 12)}"
        elif roll < 0.12:
            number += f" Depto. {rng.randint(101, 408)}"
        postal = rng.randint(*city.postal_codes)
        return (
            rng.choice(STREETS),
            number,
            rng.choice(city.colonias),
            city.name,
            city.state,
            f"{postal:05d}",
        )

    # -- the stream ----------------------------------------------------------------------

    def batches(self, size: int) -> Iterator[Batch]:
        index = 0
        while index < self.accounts:
            count = min(size, self.accounts - index)
            rows: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
            for i in range(index, index + count):
                self.account(i, rows)
            index += count
            yield Batch(rows, count)

    def account(self, index: int, rows: dict[str, list[tuple]]) -> None:
        rng = self.rng
        is_seed = index == 0
        account_id = self.take_id("account")
        zone = ZONES_BY_CODE[SEED_ZONE_CODE] if is_seed else rng.choices(
            ZONES, self.zone_weights
        )[0]
        number = str(self.account_number(account_id))
        business = not is_seed and rng.random() < 0.08
        if is_seed:
            holder = SEED_HOLDER
        elif business:
            holder = f"{rng.choice(BUSINESSES)} {rng.choice(BUSINESS_NAMES)}"
        else:
            holder = self.person()
        street, street_number, colonia, city, state, postal = self.address(zone)
        tariff = "COM" if business else "RES"

        # Which months it was billed: most accounts the whole window, some joined later,
        # a few left (inactive).
        total_months = self.seed_months if is_seed else self.months
        first_k = self.seed_months - total_months
        last_k = self.seed_months - 1
        status = "active"
        roll = rng.random()
        if not is_seed and roll < 0.08 and total_months > 3:
            first_k += rng.randint(1, total_months - 2)
        elif not is_seed and roll < 0.10 and total_months > 3:
            last_k -= rng.randint(1, total_months - 2)
            status = "inactive"

        cycle_offset = rng.randint(3, 20)  # days before month end the period closes
        issue_lag = rng.randint(1, 3)
        first_start = self.month_last[first_k] - cycle_offset + 1
        created = first_start - rng.randint(0, 3650)
        rows["account"].append((
            account_id, zone.id, number, check_digit(number), holder, street, street_number,
            colonia, city, state, postal,
            f"{rng.choice(METER_MAKERS)}{rng.randint(5, 24):02d}{rng.randint(0, 9_999_999):07d}",
            tariff, status, self.timestamp(created, rng.randint(540, 1080)),
        ))

        # Behaviour: how much gas, how they read, how they pay.
        base = rng.uniform(90, 450) if business else rng.uniform(14, 42)
        season = self.season[zone.id]
        swing_damp = 0.35 if business else 1.0
        estimate_every = rng.choice((4, 5, 6, 8, 12))
        estimate_phase = rng.randrange(estimate_every)
        payer = rng.random()
        late_payer = 0.70 <= payer < 0.92
        debtor_months = rng.randint(2, 4) if payer >= 0.95 else 0
        usual_channel = rng.random()
        true_value = billed_value = rng.randint(0, 9000)
        previous_due = previous_paid = None

        for k in range(first_k, last_k + 1):
            month = k + 1  # calendar index (index 0 is the month before the window)
            period_end = self.month_last[month] - cycle_offset
            period_start = self.month_last[month - 1] - cycle_offset + 1
            issue = period_end + issue_lag
            due = issue + 20
            newest = k == last_k
            if is_seed and newest:
                due = max(due, self.anchor_month_last)

            factor = 1 + (season[self.month_of_year[month]] - 1) * swing_damp
            usage = max(0, round(base * factor * rng.uniform(0.82, 1.18)))
            if rng.random() < 0.01:
                usage = rng.randint(0, 2)  # away from home
            true_value += usage
            if is_seed:
                kind = "estimated" if (self.seed_months - 1 - k) in (3, 8, 15) else "real"
            elif (k + estimate_phase) % estimate_every == 0:
                kind = "estimated"
            elif rng.random() < 0.03:
                kind = "customer"
            else:
                kind = "real"
            previous_value = billed_value
            if kind == "estimated":
                billed_value = min(previous_value + round(base * factor), true_value)
            else:
                billed_value = true_value
            consumption = billed_value - previous_value

            invoice_id = self.take_id("invoice")
            tariff_prices = TARIFFS[tariff]
            charges = [
                (CONCEPT_FIXED, 1, "servicio", tariff_prices["fixed"]),
                (CONCEPT_GAS, consumption, "m³", self.gas_price[k]),
                (CONCEPT_DISTRIBUTION, consumption, "m³", tariff_prices["distribution"]),
            ]
            if previous_due is not None and (previous_paid is None or previous_paid > previous_due):
                charges.append((CONCEPT_LATE_FEE, 1, "servicio", LATE_FEE))
            subtotal = 0
            lines = rows["invoice_line"]
            for position, (concept, quantity, unit, price) in enumerate(charges, start=1):
                amount = (quantity * price + 50) // 100
                subtotal += amount
                lines.append((
                    self.take_id("invoice_line"), invoice_id, position, concept, quantity,
                    unit, price_text(price), cents_text(amount),
                ))
            tax = (subtotal * TAX_PERCENT + 50) // 100
            total = subtotal + tax

            # Payment: on time, late, or not at all. Every draw happens whatever the date, so
            # the rest of the data does not depend on the day of the month; payments dated
            # today or later simply do not exist yet.
            drawn: int | None
            if is_seed:
                drawn = None if k > last_k - 3 else issue + rng.randint(2, 15)
            elif debtor_months and k > last_k - debtor_months:
                drawn = None
            elif late_payer and rng.random() < 0.4:
                drawn = due + rng.randint(1, 25)
            else:
                drawn = issue + rng.randint(2, 19)
            minute = rng.randint(480, 1319)
            channel_roll = usual_channel if rng.random() < 0.8 else rng.random()
            reference_digits = rng.randrange(10**12)
            store = STORES[rng.randrange(len(STORES))]
            paid_on = drawn if drawn is not None and drawn < self.cutoff else None
            paid_at = None
            if paid_on is not None:
                if channel_roll < 0.45:
                    channel, name = "bank", BANKS[int(channel_roll / 0.45 * len(BANKS))]
                    reference = f"{reference_digits % 10**10:010d}"
                elif channel_roll < 0.80:
                    channel, name = "store", store
                    reference = f"{reference_digits:012d}"
                else:
                    channel, name = "transfer", "SPEI"
                    reference = f"MBAN{date.fromordinal(paid_on):%Y%m%d}{reference_digits:012d}"
                if channel != "transfer" and paid_on >= self.cutoff - 2:
                    payment_status = "in_process"  # the bank or store has not reported it yet
                else:
                    payment_status = "applied"
                    paid_at = self.timestamp(paid_on, minute)
                rows["payment"].append((
                    self.take_id("payment"), account_id, invoice_id, self.iso(paid_on),
                    cents_text(total), channel, name, reference, payment_status,
                ))

            invoice_number = zone.invoice_series + (
                f"{(self.invoice_offset + invoice_id * INVOICE_MULTIPLIER) % NUMBER_SPACE:08d}"
            )
            rows["invoice"].append((
                invoice_id, account_id, zone.id, invoice_number, self.iso(issue),
                self.iso(period_start), self.iso(period_end), self.iso(due), previous_value,
                billed_value, kind, consumption, cents_text(subtotal), cents_text(tax),
                cents_text(total), paid_at, None,
            ))
            source = {"real": "meter_reader", "estimated": "system"}.get(kind) or (
                "customer_web" if rng.random() < 0.7 else "customer_phone"
            )
            rows["reading"].append((
                self.take_id("reading"), account_id, self.iso(period_end), billed_value, kind,
                source,
            ))
            previous_due, previous_paid = due, drawn


# -- writers -------------------------------------------------------------------------------


def _write_sqlite(connection: Connection, batch: Batch) -> None:
    for name, rows in batch.rows.items():
        if not rows:
            continue
        table = TABLES[name]
        compiled = insert(table).compile(dialect=connection.dialect, column_keys=COLUMNS[name])
        if tuple(compiled.positiontup or ()) != COLUMNS[name]:
            raise DemoDataError(f"unexpected column order for {name}: {compiled.positiontup}")
        connection.exec_driver_sql(str(compiled), rows)


def _write_postgresql(connection: Connection, batch: Batch) -> None:
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor:
        for name, rows in batch.rows.items():
            if not rows:
                continue
            columns = ", ".join(COLUMNS[name])
            with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def _finish(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        for name in COLUMNS:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # nosec B608  # noqa: S608 (table names from COLUMNS)
                    f"COALESCE((SELECT max(id) FROM {name}), 1))"
                )
            )
        for name in COLUMNS:
            connection.exec_driver_sql(f"ANALYZE {name}")
    else:
        connection.exec_driver_sql("ANALYZE")


def load_demo_data(
    accounts: int = DEFAULT_ACCOUNTS,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    batch_accounts: int = BATCH_ACCOUNTS,
    progress: Callable[[LoadResult], None] | None = None,
) -> LoadResult:
    """Fill the empty billing tables; raise :class:`DemoDataError` if they hold accounts.

    Runs inside an app context. Each batch of accounts is its own transaction.
    """
    if accounts < 1:
        raise DemoDataError("accounts must be at least 1 (the seed's contract)")
    if months < 1:
        raise DemoDataError("months must be at least 1")
    started = time.perf_counter()
    engine = db.engine
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise DemoDataError(f"demo data loads into SQLite or PostgreSQL, not {dialect}")
    writer = _write_postgresql if dialect == "postgresql" else _write_sqlite
    today = today or date.today()
    anchor = reference_month(today)
    with engine.begin() as connection:
        ensure_zones(connection)
        if not billing_is_empty(connection):
            raise DemoDataError(
                "the billing tables already hold accounts; load demo data into an empty "
                "database (flask db downgrade base && flask db upgrade)"
            )
    generator = _Generator(seed, today, months, accounts, dialect)
    result = LoadResult(reference_month=anchor)
    for batch in generator.batches(batch_accounts):
        with engine.begin() as connection:
            writer(connection, batch)
        result.accounts += batch.accounts
        result.invoices += len(batch.rows["invoice"])
        result.lines += len(batch.rows["invoice_line"])
        result.readings += len(batch.rows["reading"])
        result.payments += len(batch.rows["payment"])
        if progress is not None:
            progress(result)
    with engine.begin() as connection:
        _finish(connection)
    result.seconds = time.perf_counter() - started
    return result


# -- requests and claims of other customers ----------------------------------------------------

DEMO_REQUESTS = 36
#: What the neighbours asked, as staff typed it when they phoned (a category, then its text).
DEMO_TEXTS = {
    "bill_clarification": "El cliente no reconoce el cargo por reconexión de su factura.",
    "reading_review": "Dice que la lectura de la factura es mayor que la de su medidor.",
    "meter_review": "El medidor hace ruido y la carátula está empañada.",
    "change_of_holder": "Compró la casa: pide el contrato a su nombre; trae escrituras.",
    "end_of_service": "Se muda de domicilio: pide la baja al fin del periodo.",
    "accessible_bill": "Pide su factura en letra grande.",
    "tax_data": "Necesita su constancia de situación fiscal en el CFDI.",
    "other": "Pregunta por el programa de revisión de instalaciones.",
}
#: Staff's steps, as the timeline shows them.
DEMO_STEPS = (("in_progress", "Turnada al área de facturación de la zona."),
              ("resolved", "Atendida: se le explicó el cargo y se ajustó la factura."),
              ("closed", "Cerrada tras confirmar con el cliente por teléfono."))


def load_demo_requests(today: date | None = None, seed: int = DEFAULT_SEED,
                       count: int = DEMO_REQUESTS) -> int:
    """Requests and claims of other customers than the seed's contract (filed by phone or by
    former holders: no portal user), in every status with their timelines; claims about a
    bill name its newest invoice, so some neighbours' invoices are "en aclaración". The same
    seed and day give the same rows. A few dozen, whatever the number of accounts. Runs in
    an app context after :func:`load_demo_data`; returns how many it filed."""
    rng = random.Random(seed + 1)  # nosec B311  # noqa: S311 (reproducible data, not secrets)
    today = today or date.today()
    accounts = list(db.session.scalars(
        select(Account.id).where(Account.number != SEED_ACCOUNT_NUMBER)
        .order_by(Account.id).limit(count)))
    if not accounts:
        return 0
    categories = list(service_requests.CATEGORY_LABELS)
    statuses = [status.value for status in ServiceRequestStatus]
    filed = 0
    for index in range(count):
        account_id = accounts[index % len(accounts)]
        category = categories[index % len(categories)]
        status = statuses[(index // len(categories) + index) % len(statuses)]
        days_ago = rng.randint(1, 60)
        minute = rng.randint(0, 59)
        invoice_id = None
        if category in service_requests.CLARIFYING or rng.random() < 0.2:
            newest = db.session.execute(
                select(Invoice.id, Invoice.issue_date).where(Invoice.account_id == account_id)
                .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(1)).first()
            if newest is not None:
                invoice_id = newest.id
                # A claim about a bill comes after the bill: up to 15 days after its issue.
                since_issue = (today - newest.issue_date).days
                days_ago = max(0, since_issue - rng.randint(1, 15)) if since_issue > 1 else 0
        now = datetime(today.year, today.month, today.day, 15, 59, tzinfo=UTC)
        created = datetime(today.year, today.month, today.day, 15, minute,
                           tzinfo=UTC) - timedelta(days=days_ago)
        request = service_requests._file(ServiceRequest(
            account_id=account_id, user_id=None, kind=service_requests.kind_of(category),
            subject=service_requests.CATEGORY_LABELS[category], body=DEMO_TEXTS[category],
            status=status, created_at=created, category=category, invoice_id=invoice_id,
            answer_due_on=service_requests.answer_due(created, category),
        ), author=EventAuthor.STAFF.value)
        request.events[0].note = "Registrada por teléfono."
        at = created
        for step, note in DEMO_STEPS[:statuses.index(status)]:
            at = min(at + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 6)), now)
            request.events.append(ServiceRequestEvent(at=at, status=step, note=note,
                                                      author=EventAuthor.STAFF.value))
        filed += 1
    db.session.commit()
    return filed
