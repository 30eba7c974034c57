"""One builder per source system: which people it knows, what it recorded about them, and how badly.

Each builder returns the source's records (a pandas DataFrame, or a list of nested dicts for JSON sources)
and its truth rows ``(source, source_record_id, true_id)``. Record ids embed the batch number, so records
of a later batch never collide with earlier ones; a changed record in a later batch keeps its old id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from c360.datagen import noise

CURRENCY = {"de_DE": "EUR", "en_GB": "GBP", "en_US": "USD"}
COUNTRY_NAMES = {"DE": ("Germany", "Deutschland", "DE", "DEU"), "GB": ("United Kingdom", "UK", "GB", "England"),
                 "US": ("United States", "USA", "US", "U.S.")}
SKUS = np.array([f"SKU-{i:05d}" for i in range(1, 801)], dtype=object)
PAGES = np.array(["/", "/shop", "/shop/shoes", "/shop/jackets", "/sale", "/help", "/account", "/blog/tips",
                  "/product/{sku}", "/cart"], dtype=object)
TOPICS = ("delivery late", "refund request", "wrong size", "password reset", "invoice copy", "damaged item",
          "loyalty points missing", "change address", "cancel order", "product question")
HASHTAGS = np.array(["#sale", "#style", "#running", "#travel", "#coffee", "#weekend", "#newin", "#outfit",
                     "#fitness", "#home"], dtype=object)


@dataclass(frozen=True)
class Window:
    """The period a batch's records and events fall into."""

    batch: int
    start: datetime
    end: datetime

    def times(self, rng: np.random.Generator, n: int, after: pd.Series | None = None) -> pd.Series:
        """`n` random instants in the window (or between `after` and the window's end)."""
        lo = pd.Series(self.start, index=range(n)) if after is None else pd.to_datetime(after).reset_index(drop=True)
        span = (pd.Timestamp(self.end) - lo).dt.total_seconds().clip(lower=60)
        return (lo + pd.to_timedelta(rng.random(n) * span, unit="s")).dt.floor("s")


def record_ids(prefix: str, batch: int, n: int, start: int = 0) -> list[str]:
    """`n` record ids of a source in a batch: prefix, batch number and a running number."""
    return [f"{prefix}{batch:02d}{i:07d}" for i in range(start + 1, start + n + 1)]


def truth(source: str, ids: list | pd.Series, true_ids: pd.Series) -> pd.DataFrame:
    """The ground truth of a source's records: which person each record belongs to."""
    return pd.DataFrame({"source": source, "source_record_id": [str(i) for i in ids],
                         "true_id": true_ids.to_numpy()})


def members(people: pd.DataFrame, rng: np.random.Generator, share: float) -> pd.DataFrame:
    """The people a source holds: a random `share` of them."""
    return people[rng.random(len(people)) < share].reset_index(drop=True)


def with_duplicates(frame: pd.DataFrame, rng: np.random.Generator, rate: float) -> pd.DataFrame:
    """Some people recorded twice in one source (a second sign-up, a re-keyed contact)."""
    dup = frame[rng.random(len(frame)) < rate]
    return pd.concat([frame, dup], ignore_index=True)


def name_noise(frame: pd.DataFrame, rng: np.random.Generator, *, typo: float, nick: float, swap: float,
               upper: float, lower: float) -> tuple[pd.Series, pd.Series]:
    """First and last names as a source writes them: nicknames, typos, swapped and re-cased."""
    first = noise.nicknames(frame["first_name"], rng, nick)
    first = noise.typos(first, rng, typo)
    last = noise.typos(frame["last_name"], rng, typo)
    first, last = noise.swap(first, last, rng, swap)
    return noise.recase(first, rng, upper, lower), noise.recase(last, rng, upper, lower)


ADDRESS_COLUMNS = ("street_name", "house_number", "city", "postcode", "region")


def known_address(frame: pd.DataFrame, rng: np.random.Generator, stale: float) -> pd.DataFrame:
    """The address this source knows: movers' old address in a `stale` share of records."""
    old = frame["moved"].to_numpy() & (rng.random(len(frame)) < stale)
    cols = list(ADDRESS_COLUMNS)
    out = frame[cols].copy()
    out.loc[old, cols] = frame.loc[old, [f"prev_{c}" for c in cols]].to_numpy()
    return out


def known_surname(frame: pd.DataFrame, rng: np.random.Generator, share: float) -> pd.Series:
    """The maiden name in a share of the records of people whose surname changed."""
    old = frame["maiden_name"].notna().to_numpy() & (rng.random(len(frame)) < share)
    return frame["last_name"].where(~old, frame["maiden_name"])


# --- CRM (CSV): B2B accounts and contacts -------------------------------------------------------------
def crm(people: pd.DataFrame, rng: np.random.Generator, win: Window, pools_company: np.ndarray
        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Accounts (with parent companies) and their contacts; contacts carry work e-mails and old data."""
    contacts = with_duplicates(members(people, rng, 0.35), rng, 0.03)
    n = len(contacts)
    companies = np.array(sorted(set(contacts["company"])), dtype=object)
    account_of = {c: f"ACC-{win.batch:02d}{i + 1:06d}" for i, c in enumerate(companies)}
    parent = np.where(rng.random(len(companies)) < 0.25, rng.integers(0, max(len(companies), 1), len(companies)), -1)
    accounts = pd.DataFrame({
        "account_id": [account_of[c] for c in companies],
        "account_name": companies,
        "parent_account_id": [account_of[companies[p]] if p >= 0 and companies[p] != c else None
                              for c, p in zip(companies, parent)],
        "industry": rng.choice(np.array(["Retail", "Manufacturing", "Finance", "Health", "Software", "Logistics"]),
                               len(companies)),
        "website": [_domain(c) for c in companies],
        "modified_at": win.times(rng, len(companies)).dt.strftime("%Y-%m-%d %H:%M:%S"),
    })
    first, last = name_noise(contacts.assign(last_name=known_surname(contacts, rng, 0.5)), rng,
                             typo=0.03, nick=0.06, swap=0.015, upper=0.03, lower=0.02)
    address = known_address(contacts, rng, 0.6)
    work = rng.random(n) < 0.7
    work_mail = (noise_ascii(contacts["first_name"]) + "." + noise_ascii(contacts["last_name"]) + "@"
                 + contacts["company"].map(_domain))
    created = win.times(rng, n)
    ids = record_ids("CON-", win.batch, n)
    records = pd.DataFrame({
        "contact_id": ids,
        "account_id": contacts["company"].map(account_of),
        "account_name": contacts["company"],
        "salutation": np.where(contacts["gender"] == "F", np.where(contacts["locale"] == "de_DE", "Frau", "Ms"),
                               np.where(contacts["locale"] == "de_DE", "Herr", "Mr")),
        "first_name": first, "last_name": last,
        "email": noise.blank(pd.Series(np.where(work, work_mail, contacts["email"])), rng, 0.08),
        "phone": noise.blank(noise.phones(contacts["phone"], contacts["locale"], rng, (0, 1, 2)), rng, 0.25),
        "address_1": address["street_name"], "street_number": address["house_number"],
        "city": noise.recase(address["city"], rng, 0.05, 0.0), "postcode": address["postcode"],
        "country": [COUNTRY_NAMES[c][k] for c, k in zip(contacts["country"], rng.integers(0, 4, n))],
        "job_title": contacts["job_title"],
        "birth_date": noise.blank(noise.dates(contacts["date_of_birth"], "%Y-%m-%d"), rng, 0.6),
        "email_opt_in": np.where(contacts["marketing_consent"], "Y", np.where(rng.random(n) < 0.5, "N", "")),
        "created_at": created.dt.strftime("%Y-%m-%d %H:%M:%S"),
        "modified_at": win.times(rng, n, created).dt.strftime("%Y-%m-%d %H:%M:%S"),
    })
    return accounts, records, truth("crm_contacts", ids, contacts["true_id"])


def noise_ascii(values: pd.Series) -> pd.Series:
    """Values folded to plain ASCII lower case (a system that cannot store accents)."""
    from c360.datagen.population import ascii_lower

    return ascii_lower(values)


def _domain(company: str) -> str:
    word = "".join(ch for ch in company.split(",")[0].split(" ")[0].lower() if ch.isalnum())
    return f"{word or 'company'}.com"


# --- Shop (Parquet): customers and orders ---------------------------------------------------------------
def shop_customers(people: pd.DataFrame, rng: np.random.Generator, win: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shop's customers (and the truth): full names, sometimes 'Last, First', shipping addresses, logins."""
    customers = with_duplicates(members(people, rng, 0.55), rng, 0.02)
    n = len(customers)
    first, last = name_noise(customers, rng, typo=0.02, nick=0.04, swap=0.0, upper=0.02, lower=0.05)
    last_first = rng.random(n) < 0.2
    full = np.where(last_first, last + ", " + first, first + " " + last)
    address = known_address(customers, rng, 0.1)
    family = customers["family_email"].notna() & (rng.random(n) < 0.7)
    email = noise.typos(pd.Series(np.where(family, customers["family_email"], customers["email"])), rng, 0.01)
    dup_seq = customers.groupby("true_id").cumcount().to_numpy()
    ids = [100_000_000 * win.batch + i for i in range(1, n + 1)]
    registered = win.times(rng, n)
    records = pd.DataFrame({
        "customer_no": np.array(ids, dtype=np.int64),
        "full_name": full,
        "email": noise.recase(email, rng, 0.03, 0.0),
        "phone": noise.blank(noise.phones(customers["phone"], customers["locale"], rng, (0, 3, 4)), rng, 0.3),
        "shipping_street": noise.streets(address["street_name"], address["house_number"], customers["locale"], rng, 0.3),
        "shipping_city": address["city"], "shipping_zip": address["postcode"],
        "country_code": customers["country"],
        "date_of_birth": noise.blank(customers["date_of_birth"], rng, 0.5),
        # A second account of the same person gets a new login name, as shops require.
        "login": np.where(dup_seq == 0, customers["login_id"], customers["login_id"] + "_" + pd.Series(dup_seq).astype(str)),
        "registered_at": registered,
        "updated_at": win.times(rng, n, registered),
        "marketing_consent": customers["marketing_consent"].to_numpy(),
    })
    return records, truth("shop_customers", ids, customers["true_id"])


def shop_orders(customers: pd.DataFrame, owner: pd.Series, rng: np.random.Generator, win: Window, rate: float,
                locale: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders with their lines (a nested list of structs); totals equal the sum of the lines."""
    counts = rng.poisson(rate, len(customers))
    idx = np.repeat(np.arange(len(customers)), counts)
    n = len(idx)
    n_lines = rng.integers(1, 5, n)
    lines, totals = [], []
    for k in n_lines:
        skus = SKUS[rng.integers(0, len(SKUS), k)]
        qty = rng.integers(1, 4, k)
        price = np.round(rng.uniform(5, 180, k), 2)
        lines.append([{"sku": s, "qty": int(q), "unit_price": float(p)} for s, q, p in zip(skus, qty, price)])
        totals.append(round(float((qty * price).sum()), 2))
    ids = record_ids("O-", win.batch, n)
    records = pd.DataFrame({
        "order_id": ids,
        "customer_no": customers["customer_no"].to_numpy()[idx],
        "ordered_at": win.times(rng, n),
        "currency": locale.map(CURRENCY).to_numpy()[idx],
        "total_amount": totals,
        "status": rng.choice(np.array(["completed", "completed", "completed", "returned", "cancelled"]), n),
        "lines": lines,
    })
    return records, truth("shop_orders", ids, owner.iloc[idx].reset_index(drop=True))


# --- Loyalty (CSV, semicolon, German date format) -------------------------------------------------------
def loyalty(people: pd.DataFrame, rng: np.random.Generator, win: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loyalty members (and the truth): card numbers, German dates, mobiles, some erased."""
    members_ = members(people, rng, 0.30)
    n = len(members_)
    first, last = name_noise(members_, rng, typo=0.03, nick=0.02, swap=0.01, upper=0.1, lower=0.0)
    address = known_address(members_, rng, 0.3)
    ids = [f"LC{win.batch:02d}{i:08d}" for i in range(1, n + 1)]
    records = pd.DataFrame({
        "card_number": ids,
        "given_name": first, "family_name": last,
        "e_mail": noise.blank(noise.typos(members_["email"], rng, 0.01), rng, 0.15),
        "mobile": noise.blank(noise.phones(members_["phone"], members_["locale"], rng, (1, 2, 4)), rng, 0.1),
        "zip": address["postcode"], "city": address["city"],
        "dob": noise.blank(noise.dates(members_["date_of_birth"], "%d.%m.%Y"), rng, 0.1),
        "enrolled_on": win.times(rng, n).dt.strftime("%d.%m.%Y"),
        "points": rng.integers(0, 20000, n),
        "tier": rng.choice(np.array(["Bronze", "Silver", "Gold"]), n, p=[0.6, 0.3, 0.1]),
        "status": "active",  # 'deleted' when the member asked the loyalty system to erase them (a later batch)
    })
    return records, truth("loyalty_members", ids, members_["true_id"])


# --- Support tickets (NDJSON, nested requester, mixed time zones) ---------------------------------------
def tickets(people: pd.DataFrame, customer_no: dict[str, int], rng: np.random.Generator, win: Window,
            rate: float) -> tuple[list[dict], pd.DataFrame]:
    """Support tickets of some people (and their truth): requester name, e-mail or phone, sometimes a customer number."""
    who = members(people, rng, rate)
    counts = rng.integers(1, 4, len(who))
    idx = np.repeat(np.arange(len(who)), counts)
    rows = who.iloc[idx].reset_index(drop=True)
    n = len(rows)
    opened = win.times(rng, n)
    offsets = rng.choice(np.array([0, 1, 2, -5, -8]), n)
    closed = rng.random(n) < 0.8
    first, last = (x.tolist() for x in name_noise(rows, rng, typo=0.02, nick=0.1, swap=0.0, upper=0.0, lower=0.1))
    ids = record_ids("T-", win.batch, n)
    local = (opened + pd.to_timedelta(offsets, unit="h")).dt.strftime("%Y-%m-%dT%H:%M:%S").tolist()
    closed_at = (opened + pd.to_timedelta(rng.integers(1, 96, n), unit="h")).dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    draw, pick = rng.random((n, 3)), rng.integers(0, 30, (n, 4))
    email, phone, loc, true_id = (rows[c].tolist() for c in ("email", "phone", "locale", "true_id"))
    records = []
    for i in range(n):
        record = {
            "ticket_id": ids[i],
            "opened_at": local[i] + f"{int(offsets[i]):+03d}:00",
            "closed_at": closed_at[i] if closed[i] else None,
            "channel": ("email", "phone", "chat")[pick[i, 0] % 3],
            "subject": TOPICS[pick[i, 1] % len(TOPICS)],
            "status": "closed" if closed[i] else ("open", "pending")[pick[i, 2] % 2],
            "priority": ("low", "normal", "high")[pick[i, 3] % 3],
            "requester": {"name": f"{first[i]} {last[i]}", "email": email[i] if draw[i, 0] < 0.9 else None,
                          "phone": noise.phone_style(phone[i], loc[i], 0) if draw[i, 1] < 0.3 else None},
        }
        cust = customer_no.get(true_id[i])
        if cust is not None and draw[i, 2] < 0.5:
            record["customer_no"] = int(cust)
        records.append(record)
    return records, truth("support_tickets", ids, rows["true_id"])


# --- Social (JSON documents with nested structs; posts as NDJSON) --------------------------------------
def social_profiles(people: pd.DataFrame, rng: np.random.Generator, win: Window) -> tuple[list[dict], pd.DataFrame]:
    """Social profiles (and the truth): handles, display names, a city, rarely an e-mail."""
    who = members(people, rng, 0.30)
    n = len(who)
    ids = record_ids("SP-", win.batch, n)
    first = noise.nicknames(who["first_name"], rng, 0.2).tolist()
    created = win.times(rng, n)
    updated = (created + pd.to_timedelta(rng.integers(0, 60, n), unit="D")).dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    created = created.dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    style, draw = rng.integers(0, 3, n), rng.random((n, 5))
    platform, followers = rng.integers(0, 2, n), rng.integers(0, 5000, n)
    last, handle, job, city, country, email = (who[c].tolist() for c in
                                               ("last_name", "social_handle", "job_title", "city", "country", "email"))
    records = []
    for i in range(n):
        display = (f"{first[i]} {last[i]}", f"{first[i]} {last[i][0]}.", first[i])[style[i]]
        records.append({
            "profile_id": ids[i],
            "platform": ("twitter", "instagram")[platform[i]],
            "handle": handle[i],
            "display_name": display,
            "bio": f"{job[i]} from {city[i]}" if draw[i, 0] < 0.6 else None,
            "location": {"city": city[i] if draw[i, 1] < 0.5 else None, "country": country[i]},
            "contact": {"email": email[i] if draw[i, 2] < 0.2 else None,
                        "website": f"https://{handle[i][1:]}.blog" if draw[i, 3] < 0.1 else None},
            "followers": int(followers[i]),
            "created_at": created[i],
            "updated_at": updated[i],
        })
    return records, truth("social_profiles", ids, who["true_id"])


def social_posts(profiles: list[dict], owners: pd.Series, rng: np.random.Generator, win: Window,
                 rate: float) -> tuple[list[dict], pd.DataFrame]:
    """Posts of the social profiles (and the truth): `rate` posts a profile on average."""
    counts = rng.poisson(rate, len(profiles))
    total = int(counts.sum())
    ids = record_ids("PO-", win.batch, total)
    posted = win.times(rng, total).dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
    n_tags, tag_pick = rng.integers(0, 3, total), rng.integers(0, len(HASHTAGS), (total, 2))
    sku, likes, shares, mention = (rng.integers(0, len(SKUS), total), rng.integers(0, 300, total),
                                   rng.integers(0, 20, total), rng.random(total) < 0.3)
    records, truth_ids, k = [], [], 0
    for profile, count, owner in zip(profiles, counts, owners):
        for _ in range(count):
            tags = [str(t) for t in HASHTAGS[tag_pick[k, : n_tags[k]]]]
            records.append({
                "post_id": ids[k], "profile_id": profile["profile_id"], "handle": profile["handle"],
                "platform": profile["platform"], "posted_at": posted[k],
                "text": f"Loving my new {SKUS[sku[k]]} {' '.join(tags)}".strip(),
                "metrics": {"likes": int(likes[k]), "shares": int(shares[k])},
                "hashtags": tags, "mentions": ["@shop"] if mention[k] else [],
            })
            truth_ids.append(owner)
            k += 1
    return records, truth("social_posts", ids, pd.Series(truth_ids, dtype=object))


# --- Web clickstream (NDJSON, epoch milliseconds; logins reveal the login id) --------------------------
def clickstream(people: pd.DataFrame, logins: dict[str, str], rng: np.random.Generator, win: Window,
                events_per_cookie: float, visitors: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Web events of the `visitors` share of `people` (one or two cookies each)."""
    who = members(people, rng, visitors)
    cookies = 1 + rng.binomial(1, 0.4, len(who))
    owner_idx = np.repeat(np.arange(len(who)), cookies)
    n_cookies = len(owner_idx)
    cookie_ids = np.array([f"ck_{win.batch:02d}{x:014x}" for x in rng.integers(0, 2**56, n_cookies)], dtype=object)
    per_cookie = 1 + rng.poisson(events_per_cookie - 1, n_cookies)
    cookie_of_event = np.repeat(np.arange(n_cookies), per_cookie)
    n = len(cookie_of_event)
    start = win.times(rng, n_cookies)
    offset = np.concatenate([np.sort(rng.integers(0, 86_400_000, k)) for k in per_cookie]) if n else np.array([])
    ts = (start.astype("int64").to_numpy() // 1_000_000)[cookie_of_event] + offset
    kind = rng.choice(np.array(["page_view", "add_to_cart", "purchase"]), n, p=[0.87, 0.1, 0.03])
    true_ids = who["true_id"].to_numpy()[owner_idx]
    login_of_cookie = np.array([logins.get(t) for t in true_ids], dtype=object)
    logs_in = np.array([lg is not None for lg in login_of_cookie]) & (rng.random(n_cookies) < 0.7)
    # The login happens at a random event of the cookie: events before it are anonymous until stitched.
    login_at = np.floor(rng.random(n_cookies) * per_cookie).astype(int)
    position = np.arange(n) - np.repeat(np.cumsum(per_cookie) - per_cookie, per_cookie)
    is_login = logs_in[cookie_of_event] & (position == login_at[cookie_of_event])
    kind = np.where(is_login, "login", kind)
    skus = SKUS[rng.integers(0, len(SKUS), n)]
    pages = PAGES[rng.integers(0, len(PAGES), n)]
    url = np.where(kind == "login", "/login", np.char.replace(pages.astype(str), "{sku}", skus.astype(str)))
    amount = np.where(kind == "purchase", np.round(rng.uniform(10, 400, n), 2), np.nan)
    ids = [f"ev-{win.batch:02d}{x:016x}" for x in rng.integers(0, 2**60, n)]
    records = pd.DataFrame({
        "event_id": ids,
        "cookie_id": cookie_ids[cookie_of_event],
        "ts": ts.astype(np.int64),
        "event_type": kind,
        "url": url,
        "login_id": np.where(is_login, login_of_cookie[cookie_of_event], None),
        "properties": [{"sku": s, "amount": float(a), "currency": "EUR"} if k == "purchase"
                       else ({"sku": s} if k == "add_to_cart" else None)
                       for s, a, k in zip(skus, amount, kind)],
        "user_agent": rng.choice(np.array(["Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (iPhone)",
                                           "Mozilla/5.0 (Macintosh)", "Mozilla/5.0 (Linux; Android 14)"]), n),
    })
    return records, truth("web_events", ids, pd.Series(true_ids[cookie_of_event]))
