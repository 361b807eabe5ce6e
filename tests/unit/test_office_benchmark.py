"""bench/office_benchmark.py prepares its own user, whatever the database already holds."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.office_benchmark import USERNAME, bench_user
from ov.extensions import db
from ov.models import Account, User, UserAccount
from tests.support.factories import hold_seed_contract


def test_with_the_seed_contract_registered_the_bench_user_takes_another(app, billing):
    with app.app_context():
        seed_id = hold_seed_contract().id  # a customer registered the seed guide's contract
        customer = db.session.scalars(select(User).where(User.username != USERNAME)).one()
        customer_id, their_hash = customer.id, customer.password_hash
    first = bench_user(app)
    again = bench_user(app)  # a second run reuses it
    with app.app_context():
        assert first == again
        assert db.session.scalar(select(func.count()).select_from(User)) == 2
        linked = db.session.scalars(select(UserAccount).where(UserAccount.user_id == first)).one()
        assert db.session.get(Account, linked.account_id).id != seed_id
        customer = db.session.get(User, customer_id)
        assert customer.password_hash == their_hash  # the customer's user is untouched
        assert [link.account_id for link in customer.links] == [seed_id]


def test_on_a_fresh_database_the_bench_user_holds_the_seed_contract(app, billing):
    user_id = bench_user(app)
    with app.app_context():
        stored = db.session.get(User, user_id).password_hash
        account = db.session.get(User, user_id).links[0].account
        assert account.number == "8295249"
    bench_user(app)
    with app.app_context():  # the password still matches: not hashed again
        assert db.session.get(User, user_id).password_hash == stored
