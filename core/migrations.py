"""The schema, only ever changed by appending a numbered migration.

Each migration runs in a transaction together with its record in ``_sqlite_migrations``; opening the
database (``core.db.connect``) applies the pending ones. Never edit a migration that has shipped: add one.
Times are UTC ISO 8601 text. docs/architecture.md describes the tables. The order in this file is the order
they run; a number is only a name (m012 shipped before m011, and stays there).

Why so long: a migration that has shipped is never edited or moved, so the schema's whole history stays in one
file that reads in order.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from core.search_index import rebuild

__all__ = ["migrations"]

migrations = Migrations("adclear")


def _run(db: Database, script: str) -> None:
    """Run ``;``-separated statements inside the migration's transaction (``executescript`` would commit)."""
    for statement in _split(script):
        db.execute(statement)


def _split(script: str) -> list[str]:
    """Split on ``;`` at the end of a line, keeping trigger bodies (``BEGIN … END;``) whole."""
    statements, current, depth = [], [], 0
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        stripped = stripped.split("--", 1)[0].rstrip()  # a trailing comment does not hide the ';'
        upper = stripped.upper()
        if upper.endswith("BEGIN") or " BEGIN " in f" {upper} ":
            depth += 1
        if upper.startswith("END;") or upper == "END":
            depth -= 1
        if stripped.endswith(";") and depth == 0:
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


M001_CRAWL_SQL = """
        CREATE TABLE sites (
            name TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            kind TEXT NOT NULL,
            region TEXT NOT NULL DEFAULT '',
            config TEXT NOT NULL,            -- the site's seeds.yml entry as JSON
            updated_at TEXT NOT NULL
        );
        CREATE TABLE crawl_runs (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL REFERENCES sites(name),
            spider TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',   -- host:pid of the crawl process, to detect interrupted runs
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
            reason TEXT NOT NULL DEFAULT '',  -- Scrapy's finish reason, or why the run failed
            pages INTEGER NOT NULL DEFAULT 0,  -- responses received
            ads_new INTEGER NOT NULL DEFAULT 0,
            ads_seen INTEGER NOT NULL DEFAULT 0,  -- seen again, unchanged
            ads_changed INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            warc_file TEXT,
            stats TEXT NOT NULL DEFAULT '{}'   -- Scrapy's stats as JSON
        );
        CREATE INDEX crawl_runs_site ON crawl_runs(site, started_at);
        CREATE TABLE crawl_errors (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
            at TEXT NOT NULL,
            url TEXT NOT NULL,
            kind TEXT NOT NULL,               -- http_404, http_5xx, dns, refused, timeout, robots, parse, ...
            message TEXT NOT NULL
        );
        CREATE INDEX crawl_errors_run ON crawl_errors(run_id);
        CREATE TABLE pages (                  -- every response archived, with where it lies in the WARC
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
            url TEXT NOT NULL,
            status INTEGER NOT NULL,
            fetched_at TEXT NOT NULL,
            content_type TEXT NOT NULL DEFAULT '',
            length INTEGER NOT NULL,
            payload_sha256 TEXT NOT NULL,
            warc_file TEXT NOT NULL,          -- relative to the database's directory
            warc_offset INTEGER NOT NULL,
            warc_length INTEGER NOT NULL
        );
        CREATE INDEX pages_run ON pages(run_id);
        CREATE INDEX pages_url ON pages(url);
        CREATE TABLE ads (
            id INTEGER PRIMARY KEY,
            ad_key TEXT NOT NULL UNIQUE,      -- canonical URL, or page URL + '#' + text hash for an ad slot
            url TEXT NOT NULL,                -- canonical URL of the ad (of the page, for an ad slot)
            site TEXT NOT NULL REFERENCES sites(name),
            platform TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            posted_at TEXT,
            content_hash TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            last_fetched TEXT NOT NULL,       -- when its page was last fetched (last_seen: also seen in a list)
            status TEXT NOT NULL DEFAULT 'new',
            removed_at TEXT
        );
        CREATE INDEX ads_site ON ads(site, last_seen);
        CREATE TABLE ad_versions (            -- every distinct content an ad has shown, oldest first
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            contact TEXT NOT NULL,
            author TEXT NOT NULL,
            posted_at TEXT,
            first_seen TEXT NOT NULL,
            page_id INTEGER REFERENCES pages(id),
            UNIQUE (ad_id, content_hash)
        );
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
            seen_at TEXT NOT NULL,
            -- new, same, changed: the page was fetched; listed: seen in a list, not fetched again (revisit_after)
            change TEXT NOT NULL CHECK (change IN ('new', 'same', 'changed', 'listed')),
            UNIQUE (ad_id, run_id)
        );
        CREATE INDEX sightings_run ON sightings(run_id);
        CREATE TABLE evidence (               -- what proves an ad was online: archived page, screenshot
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            page_id INTEGER REFERENCES pages(id),
            kind TEXT NOT NULL DEFAULT 'page' CHECK (kind IN ('page', 'screenshot')),
            url TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            http_status INTEGER,
            sha256 TEXT NOT NULL,             -- of the payload: the page as served, or the PNG
            warc_file TEXT NOT NULL,
            warc_offset INTEGER NOT NULL,
            warc_length INTEGER NOT NULL,
            UNIQUE (ad_id, kind, sha256)
        );
        CREATE INDEX evidence_ad ON evidence(ad_id);
        """


@migrations()
def m001_crawl(db: Database) -> None:
    _run(db, M001_CRAWL_SQL)


M002_REVIEW_SQL = """
        CREATE TABLE verdicts (               -- every classification of an ad; the newest is the current one
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            content_hash TEXT NOT NULL,       -- the ad's content this verdict is about
            classifier_version TEXT NOT NULL,
            classified_at TEXT NOT NULL,
            score REAL NOT NULL,
            label TEXT NOT NULL CHECK (label IN ('flag', 'watch', 'clear')),
            categories TEXT NOT NULL,         -- JSON list, strongest first
            hits TEXT NOT NULL,               -- JSON list of hits (rule, span, weight, legal basis)
            nearest TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX verdicts_ad ON verdicts(ad_id, id);
        CREATE TABLE queue (                  -- one review item per ad
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL UNIQUE REFERENCES ads(id),
            verdict_id INTEGER NOT NULL REFERENCES verdicts(id),
            priority REAL NOT NULL,           -- flag above watch, then by score
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'claimed', 'decided', 'withdrawn')),
            claimed_by TEXT,
            lease_until TEXT,
            queued_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX queue_open ON queue(state, priority DESC, queued_at);
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            reviewer TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
            category TEXT,                    -- 涉嫌类型, for a confirmation
            reason TEXT NOT NULL,             -- the reviewer's reason; for a rejection one of the reject reasons
            legal_basis TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            verdict_id INTEGER REFERENCES verdicts(id),
            decided_at TEXT NOT NULL,
            ledger_seq INTEGER NOT NULL
        );
        CREATE INDEX decisions_ad ON decisions(ad_id);
        CREATE TABLE ledger (                 -- 违法广告清理台账: one append-only hash chain
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            ad_id INTEGER REFERENCES ads(id),
            payload TEXT NOT NULL,            -- canonical JSON
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        );
        CREATE INDEX ledger_ad ON ledger(ad_id);
        CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN
            SELECT RAISE(ABORT, 'the ledger is append-only: corrections are new entries');
        END;
        CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN
            SELECT RAISE(ABORT, 'the ledger is append-only: entries cannot be deleted');
        END;
        CREATE TRIGGER ledger_extends_chain BEFORE INSERT ON ledger
        WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM ledger)
          OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1),
                                           '0000000000000000000000000000000000000000000000000000000000000000')
        BEGIN
            SELECT RAISE(ABORT, 'a ledger entry must extend the chain: next seq and the head hash as prev_hash');
        END;
        CREATE TABLE audit_log (              -- who did what, when, from where
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,             -- login, claim, confirm, reject, export, ...
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            address TEXT NOT NULL DEFAULT ''  -- 'cli' or the client's IP address
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        """


@migrations()
def m002_review(db: Database) -> None:
    _run(db, M002_REVIEW_SQL)


M003_CONTACTS_SQL = """
        CREATE TABLE contacts (               -- contacts an ad has shown (any version), normalised
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            kind TEXT NOT NULL CHECK (kind IN ('mobile', 'landline', 'wechat', 'qq', 'qq_group', 'url')),
            value TEXT NOT NULL,
            matched TEXT NOT NULL,            -- as written in the ad
            first_seen TEXT NOT NULL,
            UNIQUE (ad_id, kind, value)
        );
        CREATE INDEX contacts_value ON contacts(kind, value);
        """


@migrations()
def m003_contacts(db: Database) -> None:
    _run(db, M003_CONTACTS_SQL)


M004_USERS_SQL = """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('reviewer', 'supervisor', 'admin')),
            password_hash TEXT NOT NULL,      -- argon2id (pwdlib), parameters inside the hash
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            password_changed_at TEXT NOT NULL,
            last_login_at TEXT,
            last_login_address TEXT,
            failed_logins INTEGER NOT NULL DEFAULT 0  -- wrong passwords since the last successful login
        );
        CREATE TABLE login_attempts (         -- every password tried: the rate limit counts the failures here
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            name TEXT NOT NULL COLLATE NOCASE,
            address TEXT NOT NULL,
            ok INTEGER NOT NULL
        );
        CREATE INDEX login_attempts_name ON login_attempts(name, at);
        CREATE INDEX login_attempts_address ON login_attempts(address, at);
        CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY,              -- SHA-256 of the cookie's token; the token itself is not stored
            user_id INTEGER NOT NULL REFERENCES users(id),
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,         -- absolute end, whatever the activity
            address TEXT NOT NULL DEFAULT '',
            user_agent TEXT NOT NULL DEFAULT '',
            ended_at TEXT,
            end_reason TEXT                   -- logout, idle, expired, disabled
        );
        CREATE INDEX web_sessions_user ON web_sessions(user_id);
        CREATE TABLE escalations (            -- an ad a reviewer sent to a supervisor
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            raised_by TEXT NOT NULL,
            raised_at TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'returned')),
            resolved_by TEXT,
            resolved_at TEXT,
            resolution TEXT CHECK (resolution IN ('confirmed', 'rejected', 'returned')),
            resolution_note TEXT NOT NULL DEFAULT '',
            decision_id INTEGER REFERENCES decisions(id)
        );
        CREATE UNIQUE INDEX escalations_one_open ON escalations(ad_id) WHERE state = 'open';
        CREATE INDEX escalations_state ON escalations(state, raised_at);
        CREATE TABLE queue_new (
            id INTEGER PRIMARY KEY,
            ad_id INTEGER NOT NULL UNIQUE REFERENCES ads(id),
            verdict_id INTEGER NOT NULL REFERENCES verdicts(id),
            priority REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'claimed', 'decided', 'withdrawn', 'escalated')),
            claimed_by TEXT,
            lease_until TEXT,
            queued_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        INSERT INTO queue_new (id, ad_id, verdict_id, priority, state, claimed_by, lease_until, queued_at, updated_at)
            SELECT id, ad_id, verdict_id, priority, state, claimed_by, lease_until, queued_at, updated_at FROM queue;
        DROP TABLE queue;
        ALTER TABLE queue_new RENAME TO queue;
        CREATE INDEX queue_open ON queue(state, priority DESC, queued_at);
        -- the web queue page: open items in review order, and the oldest open item
        CREATE INDEX queue_open_order ON queue(priority DESC, queued_at, ad_id) WHERE state IN ('pending', 'claimed');
        CREATE INDEX queue_open_age ON queue(queued_at) WHERE state IN ('pending', 'claimed');
        -- an ad's audit trail on its page; the claim checks of the benchmark
        CREATE INDEX audit_log_target ON audit_log(target, id);
        CREATE INDEX decisions_at ON decisions(decided_at);
        """


@migrations()
def m004_users(db: Database) -> None:
    """The web app: accounts, login attempts, server-side sessions, escalations; indexes for its pages.

    The queue is rebuilt once to allow the state ``escalated`` (an ad a reviewer sent to a supervisor: out of
    every reviewer's queue until a supervisor decides it or sends it back).
    """
    _run(db, M004_USERS_SQL)


M005_NEAR_DUPLICATES_SQL = """
        CREATE TABLE fingerprints (           -- near-duplicate fingerprints of each ad's current content
            ad_id INTEGER PRIMARY KEY REFERENCES ads(id),
            fp_version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,       -- the content they were made from
            exact INTEGER NOT NULL,           -- signed 64-bit
            simhash INTEGER,                  -- signed 64-bit; NULL for a text too short to fingerprint
            minhash BLOB                      -- 64 bytes; NULL for a short text
        );
        ALTER TABLE ads ADD COLUMN cluster_id INTEGER;  -- smallest ad id of its group of near-duplicates
        CREATE INDEX ads_cluster ON ads(cluster_id);
        CREATE INDEX ads_status ON ads(status);
        ALTER TABLE decisions ADD COLUMN reversed_seq INTEGER;  -- the ledger entry that reversed it, if any
        """


@migrations()
def m005_near_duplicates(db: Database) -> None:
    _run(db, M005_NEAR_DUPLICATES_SQL)


M006_LEARNED_SCORER_SQL = """
        ALTER TABLE verdicts ADD COLUMN rules_label TEXT;  -- what the rules alone said (flag, watch, clear)
        -- the learned scorer's part as JSON: {"version", "score", "label", "flag_at", "watch_at", "explain"},
        -- or {"version": null, "error": ...} when its file could not be used; NULL before this migration
        ALTER TABLE verdicts ADD COLUMN model TEXT;
        """


@migrations()
def m006_learned_scorer(db: Database) -> None:
    _run(db, M006_LEARNED_SCORER_SQL)


M007_TAKEDOWNS_SQL = """
        CREATE TABLE dispatch_batches (       -- 交办单: the takedowns sent to one receiver at once
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,      -- 交办单号
            office TEXT NOT NULL,             -- seeds.yml operator.code
            year INTEGER NOT NULL,
            serial INTEGER NOT NULL,
            receiver TEXT NOT NULL,           -- a key of receivers.yml
            state TEXT NOT NULL DEFAULT 'draft',  -- draft, approved, delivered, failed, handed_over, cancelled
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            approved_by TEXT,
            approved_at TEXT,
            delivered_at TEXT,
            delivery TEXT,                    -- email, hand
            delivery_detail TEXT,             -- to whom, the message id, or why it failed
            notice_sha256 TEXT,
            notice_file TEXT,                 -- relative to the data directory
            UNIQUE (office, year, serial)
        );
        CREATE TABLE takedowns (              -- one per takedown_requested entry; the ledger says what happened,
            id INTEGER PRIMARY KEY,           -- this row caches the state it derives (review/takedowns.py)
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            requested_seq INTEGER NOT NULL UNIQUE,
            state TEXT NOT NULL DEFAULT 'requested',
            receiver TEXT,
            batch_id INTEGER REFERENCES dispatch_batches(id),
            deadline TEXT,                    -- 期限: its last day, YYYY-MM-DD in China time
            dispatched_at TEXT,
            feedback_at TEXT,
            feedback_result TEXT,
            feedback_by TEXT,
            checked_at TEXT,                  -- the last re-check: when and what it found
            check_result TEXT,                -- removed, online, unknown
            removed_at TEXT,
            closed_at TEXT,
            reappeared_at TEXT,
            reappeared_ad_id INTEGER REFERENCES ads(id),
            updated_seq INTEGER NOT NULL      -- the last ledger entry applied
        );
        CREATE INDEX takedowns_state ON takedowns(state, deadline);
        CREATE INDEX takedowns_ad ON takedowns(ad_id);
        CREATE INDEX takedowns_batch ON takedowns(batch_id);
        CREATE TABLE rechecks (               -- every re-fetch of a takedown's URL, with what it saw
            id INTEGER PRIMARY KEY,
            takedown_id INTEGER NOT NULL REFERENCES takedowns(id),
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,            -- removed, online, unknown
            detail TEXT NOT NULL DEFAULT '',
            http_status INTEGER,
            warc_file TEXT,
            warc_offset INTEGER,
            warc_length INTEGER,
            sha256 TEXT,
            ledger_seq INTEGER
        );
        CREATE INDEX rechecks_takedown ON rechecks(takedown_id, at);
        -- the takedowns requested before this migration, cancelled where their confirmation was reversed since
        INSERT INTO takedowns (ad_id, requested_seq, state, updated_seq)
            SELECT t.ad_id, t.seq,
                   CASE WHEN EXISTS (SELECT 1 FROM ledger r WHERE r.action = 'reversed' AND r.ad_id = t.ad_id
                                     AND r.seq > t.seq) THEN 'cancelled' ELSE 'requested' END,
                   COALESCE((SELECT min(r.seq) FROM ledger r WHERE r.action = 'reversed' AND r.ad_id = t.ad_id
                             AND r.seq > t.seq), t.seq)
            FROM ledger t WHERE t.action = 'takedown_requested' ORDER BY t.seq;
        """


@migrations()
def m007_takedowns(db: Database) -> None:
    _run(db, M007_TAKEDOWNS_SQL)


M008_CAMPAIGNS_TIPS_SQL = """
        CREATE TABLE campaigns (              -- 专项整治: a named period whose numbers are reported
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            office TEXT NOT NULL DEFAULT '',  -- the responsible office (发文机关), as it signs its reports
            starts_on TEXT NOT NULL,          -- YYYY-MM-DD in China time, both days included
            ends_on TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT '{}', -- JSON {"sites": [], "regions": [], "categories": []}; empty = all
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            CHECK (starts_on <= ends_on)
        );
        CREATE TABLE campaign_phases (        -- 部署落实, 排查整治, 督导总结 …
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            name TEXT NOT NULL,
            starts_on TEXT NOT NULL,
            ends_on TEXT NOT NULL,
            UNIQUE (campaign_id, name),
            CHECK (starts_on <= ends_on)
        );
        CREATE TABLE tips (                   -- 举报线索: the tips ledger's rows; the ledger records each step
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,      -- 线索编号, e.g. 〔2026〕SFX线字第0001号 (review/tips.py)
            office TEXT NOT NULL DEFAULT '',  -- seeds.yml operator.code
            year INTEGER,                     -- the year in China when it was received (review/tips.py sets
            serial INTEGER,                   -- these three; a row written without them keeps its number)
            received_at TEXT NOT NULL,
            channel TEXT NOT NULL,            -- phone, letter, email, web, visit, other
            summary TEXT NOT NULL,
            url TEXT,
            region TEXT NOT NULL DEFAULT '',
            tipster_name TEXT NOT NULL DEFAULT '',   -- confidential (条例 Art. 16): supervisors only
            tipster_phone TEXT NOT NULL DEFAULT '',
            tipster_other TEXT NOT NULL DEFAULT '',
            tipster_salt TEXT NOT NULL DEFAULT '',   -- the ledger holds sha256(salt, name, phone) at most
            entered_by TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'received',  -- received, verifying, verified, unfounded (kept when closed)
            ad_id INTEGER REFERENCES ads(id),        -- the ad its URL became, once fetched
            fetch_outcome TEXT,               -- fetched, refused, failed; NULL without a URL or before fetching
            fetch_detail TEXT NOT NULL DEFAULT '',
            verified_at TEXT,                 -- 核查: when its result was recorded
            verify_note TEXT NOT NULL DEFAULT '',
            feedback_at TEXT,                 -- 反馈: what the tipster was told, and when
            feedback_text TEXT,
            closed_at TEXT,                   -- 办结
            updated_at TEXT NOT NULL,
            UNIQUE (office, year, serial)
        );
        CREATE INDEX tips_received ON tips(received_at);
        CREATE INDEX tips_ad ON tips(ad_id);
        CREATE TABLE tip_attachments (
            id INTEGER PRIMARY KEY,
            tip_id INTEGER NOT NULL REFERENCES tips(id),
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,             -- the file is kept under this name (review/attachments.py)
            size INTEGER NOT NULL,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL,
            UNIQUE (tip_id, sha256)
        );
        -- 量化统计 (review/statistics.py) counts the big tables over ranges of these indexes, never row by row
        CREATE INDEX sightings_run_seen ON sightings(run_id, seen_at);
        CREATE INDEX pages_run_fetched ON pages(run_id, fetched_at);
        CREATE INDEX ads_site_first_seen ON ads(site, first_seen);
        CREATE INDEX verdicts_first_flag ON verdicts(ad_id, classified_at) WHERE label = 'flag';
        CREATE INDEX ledger_action ON ledger(action, at);
        """


@migrations()
def m008_campaigns_tips(db: Database) -> None:
    _run(db, M008_CAMPAIGNS_TIPS_SQL)


M009_ALERTS_SQL = """
        -- each run's health, checked after it ends (core/runhealth.py): NULL not checked, 'ok', 'unhealthy'
        ALTER TABLE crawl_runs ADD COLUMN health TEXT;
        CREATE TABLE run_health (             -- every check made of a run, passed or not
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
            checked_at TEXT NOT NULL,
            name TEXT NOT NULL,               -- finished, browser, items, error_rate, layout
            ok INTEGER NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            value REAL,                       -- what was measured (items, error rate …)
            threshold REAL,                   -- what it was held against
            UNIQUE (run_id, name)
        );
        CREATE TABLE alerts (                 -- what someone must hear about (review/alerts.py)
            id INTEGER PRIMARY KEY,
            raised_at TEXT NOT NULL,
            kind TEXT NOT NULL,               -- run, flags, overdue, reappeared, tip, config, test
            severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
            subject TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            group_key TEXT,                   -- the same key within the grouping window: counted, not sent again
            count INTEGER NOT NULL DEFAULT 1,
            last_at TEXT NOT NULL,
            run_id INTEGER REFERENCES crawl_runs(id),
            routed_at TEXT                    -- when its deliveries were made (one per channel of alerts.yml)
        );
        CREATE INDEX alerts_raised ON alerts(raised_at);
        CREATE INDEX alerts_group ON alerts(group_key, raised_at);
        CREATE INDEX alerts_unrouted ON alerts(id) WHERE routed_at IS NULL;
        CREATE TABLE alert_deliveries (       -- one alert to one channel, with every attempt's outcome
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL,            -- a key of alerts.yml's channels
            -- pending, retrying (failed, tried again at next_at), sent, failed (given up after the last try)
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'retrying', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at TEXT NOT NULL,            -- when it is due (again)
            last_at TEXT,
            sent_at TEXT,
            message TEXT,                     -- the message it went out in (several alerts may share one)
            error TEXT NOT NULL DEFAULT '',   -- the last failure
            UNIQUE (alert_id, channel)
        );
        CREATE INDEX alert_deliveries_due ON alert_deliveries(state, next_at);
        CREATE INDEX alert_deliveries_channel ON alert_deliveries(channel, last_at);
        """


@migrations()
def m009_alerts(db: Database) -> None:
    """Health checks of crawl runs, and alerts with their deliveries (docs/alerts.md)."""
    _run(db, M009_ALERTS_SQL)


M012_ACCOUNTS_SQL = """
        ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;  -- set by an admin's reset
        ALTER TABLE users ADD COLUMN unlocked_at TEXT;  -- an admin's unlock: failed logins before it do not count
        """


@migrations()
def m012_accounts(db: Database) -> None:
    _run(db, M012_ACCOUNTS_SQL)


M011_SEARCH_SQL = """
        -- every ad's normalised text (core/search_index.py): substrings of 3+ characters, no segmenter needed
        CREATE VIRTUAL TABLE ad_search USING fts5(text, tokenize = 'trigram');
        -- the pairs of adjacent letters or digits of that text, one token each: 2-character words (保本)
        CREATE VIRTUAL TABLE ad_search_pairs USING fts5(pairs, content = '', tokenize = 'unicode61');
        -- ads whose text the index does not have yet (SQL cannot normalise: core.search_index indexes them)
        CREATE TABLE search_pending (ad_id INTEGER PRIMARY KEY);
        CREATE TRIGGER ads_search_new AFTER INSERT ON ads
        BEGIN
            INSERT OR IGNORE INTO search_pending (ad_id) VALUES (NEW.id);
        END;
        CREATE TRIGGER ads_search_changed AFTER UPDATE OF title, body, contact, author ON ads
        WHEN NEW.title IS NOT OLD.title OR NEW.body IS NOT OLD.body OR NEW.contact IS NOT OLD.contact
          OR NEW.author IS NOT OLD.author
        BEGIN
            INSERT OR IGNORE INTO search_pending (ad_id) VALUES (NEW.id);
        END;
        -- an advertiser's page (review/entities.py)
        CREATE INDEX ads_author ON ads(author);
        """


@migrations()
def m011_search(db: Database) -> None:
    """Search over every ad (FTS5), filled here for the ads already stored."""
    _run(db, M011_SEARCH_SQL)
    if db.execute("SELECT 1 FROM ads LIMIT 1").fetchone():  # a new database: nothing to index, nothing written
        rebuild(db)


M013_SCHEDULER_SQL = """
        CREATE TABLE schedule_state (         -- one row per job of `adclear scheduler`: a site's crawl, 'recheck'
            job TEXT PRIMARY KEY,
            kind TEXT NOT NULL,               -- crawl or recheck
            schedule TEXT NOT NULL,           -- as seeds.yml writes it (cron or interval, China time)
            next_due TEXT,                    -- UTC; NULL while the job is disabled
            last_started TEXT,
            last_finished TEXT,
            last_exit INTEGER,                -- the command's exit code (crawl: 1 when a site failed)
            running_pid INTEGER,              -- the command's process while it runs
            missed INTEGER NOT NULL DEFAULT 0,  -- runs made one at the last start (the scheduler was down)
            enabled INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE schedule_requests (      -- 立即运行: "run now" from the web app, taken by the scheduler
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            taken_at TEXT,                    -- NULL: waiting for the scheduler
            outcome TEXT                      -- started, refused: why
        );
        CREATE INDEX schedule_requests_open ON schedule_requests(job) WHERE taken_at IS NULL;
        CREATE TABLE scheduler_status (       -- the one scheduler of this database, as it last said
            id INTEGER PRIMARY KEY CHECK (id = 1),
            owner TEXT NOT NULL,              -- host:pid
            started_at TEXT NOT NULL,
            seen_at TEXT NOT NULL,            -- every pass of its loop
            stopped_at TEXT,
            seeds TEXT NOT NULL DEFAULT '',   -- the seeds.yml it follows
            tick REAL NOT NULL DEFAULT 5,     -- seconds between its passes
            config_error TEXT NOT NULL DEFAULT '',  -- why the last change of seeds.yml was not taken ('' none)
            config_error_at TEXT
        );
        """


@migrations()
def m013_scheduler(db: Database) -> None:
    """`adclear scheduler`: its jobs, run-now requests and status (core/scheduling.py)."""
    _run(db, M013_SCHEDULER_SQL)


M014_IMAGES_SQL = """
        -- what was read in a picture (core/images.py), once per picture: keyed by the SHA-256 of its bytes
        CREATE TABLE image_reads (
            sha256 TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'error')),
            error TEXT NOT NULL DEFAULT '',    -- why a picture was skipped or not read (a timeout, a bomb)
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0,
            lines TEXT NOT NULL DEFAULT '[]',  -- JSON [{text, box: [[x, y] × 4], score}] in the picture's pixels
            codes TEXT NOT NULL DEFAULT '[]',  -- JSON [payload] of its QR codes
            seconds REAL NOT NULL DEFAULT 0,
            engine TEXT NOT NULL DEFAULT '',
            read_at TEXT NOT NULL
        );
        -- an ad's pictures: its images and the screenshot of its rendered page, in the order the ad shows them
        CREATE TABLE ad_images (
            ad_id INTEGER NOT NULL REFERENCES ads(id),
            sha256 TEXT NOT NULL,
            position INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL DEFAULT 'image' CHECK (kind IN ('image', 'screenshot')),
            url TEXT NOT NULL DEFAULT '',
            warc_file TEXT,
            warc_offset INTEGER,
            warc_length INTEGER,
            PRIMARY KEY (ad_id, sha256)
        );
        CREATE INDEX ad_images_sha256 ON ad_images(sha256);
        -- the ad's own field of text read in its pictures, as the classifier reads it after its body (core.ads)
        ALTER TABLE ads ADD COLUMN pictures TEXT NOT NULL DEFAULT '';
        """


@migrations()
def m014_images(db: Database) -> None:
    """Text and QR codes read in ads' pictures (docs/images.md)."""
    _run(db, M014_IMAGES_SQL)


@migrations()
def m015_run_health_zh(db: Database) -> None:
    """A run's checks in Chinese beside the English the command line prints (core/runhealth.py)."""
    _run(db, "ALTER TABLE run_health ADD COLUMN message_zh TEXT NOT NULL DEFAULT '';")


M016_STREAM_RUNS_SQL = """
        -- a run a distributed crawl's ingest writer keeps (crawler/ingest.py): the crawl job it records, one run
        -- per site and job, so that an entry redelivered after a crash lands in the run it belongs to
        ALTER TABLE crawl_runs ADD COLUMN job TEXT;
        CREATE UNIQUE INDEX crawl_runs_job ON crawl_runs(site, job) WHERE job IS NOT NULL;
        """


@migrations()
def m016_stream_runs(db: Database) -> None:
    """Runs of distributed crawls, found again by their job (docs/operations.md, distributed crawling)."""
    _run(db, M016_STREAM_RUNS_SQL)


M017_PICTURES_SEARCH_SQL = """
        -- the text read in an ad's pictures is searched too (core/search_index.py): a change of it is noted
        CREATE TRIGGER ads_search_pictures AFTER UPDATE OF pictures ON ads
        WHEN NEW.pictures IS NOT OLD.pictures
        BEGIN
            INSERT OR IGNORE INTO search_pending (ad_id) VALUES (NEW.id);
        END;
        """


@migrations()
def m017_pictures_search(db: Database) -> None:
    """The text read in ads' pictures in the search index (docs/images.md); the ads whose pictures were read
    already are noted, to be indexed again before the next search (``index_pending``)."""
    _run(db, M017_PICTURES_SEARCH_SQL)
    if db["search_pending"].exists():
        db.execute("INSERT OR IGNORE INTO search_pending (ad_id) SELECT id FROM ads WHERE pictures != ''")


@migrations()
def m018_sightings_one_run_index(db: Database) -> None:
    """Sightings kept two indexes led by the run: ``sightings_run_seen`` (run, time) serves every query the
    older ``sightings_run`` served, which only cost a write per sighting (a monitoring crawl's most frequent
    row: each ad seen again)."""
    _run(db, "DROP INDEX IF EXISTS sightings_run;")
