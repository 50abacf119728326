"""Every default in one place, each with its meaning and unit. The config overrides these."""

# --- HTTP server (metrics, health, API) ---
LISTEN = "127.0.0.1:9108"  # host:port of /metrics, /healthz, /readyz and the API

# --- storage ---
STORAGE_URL = "sqlite:///brandpulse-data/brandpulse.db"  # SQLAlchemy URL; relative SQLite paths resolve against the config file's folder
SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a SQLite writer waits for a lock, milliseconds

# --- sources ---
POLL_INTERVAL_SECONDS = 300.0  # how often a source is polled when its config does not say
POLL_JITTER = 0.1  # fraction of the interval added at random so sources do not poll in lockstep
HTTP_TIMEOUT_SECONDS = 20.0  # connect + read timeout for one fetch, seconds
HTTP_MAX_BYTES = 20 * 1024 * 1024  # response size cap for one fetch, bytes
HTTP_USER_AGENT = "BrandPulse/{version} (+https://github.com/brandpulse/brandpulse)"
FILE_MAX_ITEMS_PER_POLL = 5_000  # rows a file source hands over per poll; the rest wait for the next
BACKOFF_BASE_SECONDS = 30.0  # first retry delay after a failed poll, doubled per consecutive failure
BACKOFF_MAX_SECONDS = 3_600.0  # the longest delay between retries of a failing source
SEEN_IDS_KEPT = 2_000  # feed entry ids a source remembers to skip entries it already delivered
PUSH_WINDOW_SECONDS = 300.0  # push sources: how far a request's signed timestamp may be from now (either way), seconds
PUSH_MAX_BYTES = 5 * 1024 * 1024  # push sources: request body cap, bytes (larger -> 413)
PUSH_MAX_ITEMS_PER_POLL = 5_000  # push sources: spooled items handed to the pipeline per poll

# --- nlp ---
NEUTRAL_BAND = (0.4, 0.6)  # positive-probability band labelled neutral (the model is unsure)
DEDUPE_WINDOW_HOURS = 24.0  # how far back near-duplicates and reposts are looked for, hours
DEDUPE_MAX_DISTANCE = 3  # SimHash Hamming distance at or below which two texts are near duplicates
DEDUPE_MIN_CHARS = 12  # texts shorter than this are only checked for exact duplicates
SCORE_BATCH = 512  # texts scored per model call

# --- alerts ---
BUCKET_SECONDS = 900  # width of one time bucket for detection, seconds (15 min)
BASELINE_DAYS = 7  # history the seasonal baseline looks at, days
EVALUATE_INTERVAL_SECONDS = 60.0  # how often the alert engine evaluates every brand
RESOLVE_AFTER_SECONDS = 3_600.0  # signals must stay clear this long before an alert resolves
ACK_WITHIN_SECONDS = 1_800.0  # acknowledgement deadline when a level does not set one
REPEAT_EVERY_SECONDS = 14_400.0  # re-notify an unacknowledged alert this often (4 h)

# --- outbox / notifications ---
DISPATCH_INTERVAL_SECONDS = 2.0  # how often the outbox is drained
NOTIFY_TIMEOUT_SECONDS = 10.0  # one notifier call, seconds
NOTIFY_MAX_ATTEMPTS = 8  # attempts before a notification is given up (failed)
NOTIFY_RETRY_BASE_SECONDS = 5.0  # first retry delay, doubled per attempt
NOTIFY_RETRY_MAX_SECONDS = 600.0  # the longest delay between attempts
OUTBOX_CLAIM_SECONDS = 60.0  # a claimed row returns to the queue after this long (crashed sender)

# --- storage (added by the store layer) ---
PG_CONNECT_TIMEOUT_SECONDS = 10  # how long connecting to PostgreSQL may take before the store reports it unreachable, seconds

# --- alert detection (added by the alerts package) ---
BASELINE_FLOOR_PER_BUCKET = 1.0  # smallest baseline of negative mentions per bucket, so a near-zero baseline does not turn every blip into a spike
BASELINE_MIN_SEASONAL_DAYS = 3  # same-hour samples from previous days needed before the seasonal baseline is trusted; fewer -> rolling window
BASELINE_ROLLING_BUCKETS = 96  # recent buckets the fallback (rolling) baseline takes its median over (96 x 15 min = 1 day)
BASELINE_MIN_ROLLING_BUCKETS = 4  # recent buckets of history the rolling baseline needs; fewer -> only the floor
ALERT_SAMPLE_MENTIONS = 5  # sample negative mentions kept as evidence in an alert and shown in its notifications

# --- spike scoring (added by the alerts package for issue 4: volume spikes, backtests) ---
BASELINE_MAX_NEIGHBOURS = 12  # most buckets either side of the same time of day a plan may pool into its seasonal baseline (baseline_neighbours)
SPIKE_TAIL_BASELINES = 2  # how far back a level's tail_factor looks for the brand's usual surprises, in multiples of baseline_days
SPIKE_TAIL_QUANTILE = 0.999  # the quantile of those past surprises that tail_factor multiplies (0.999 of 14 days of 5-minute windows ~ the 4th largest)
SPIKE_TAIL_MIN_DAYS = 1  # days of past windows needed before tail_factor trusts its quantile (every time of day seen once, whatever the bucket); fewer -> the level does not hold

# --- sustained shifts (added by the alerts package for issue 4: hours of moderately raised volume) ---
SUSTAINED_WINDOW_SECONDS = 7_200  # the window a level's `sustained` condition judges (complete buckets + the one in progress), seconds (2 h)
SUSTAINED_TAIL_QUANTILE = 0.99  # the quantile of the brand's own past sustained-window scores that `sustained` multiplies (of 2 x baseline_days of windows; lower than SPIKE_TAIL_QUANTILE because one long incident fills many windows)
SUSTAINED_MIN_TAIL = 1.0  # smallest usual tail `sustained` multiplies, in robust standard deviations, so a brand with a flat history still needs a real shift
SUSTAINED_TAIL_MIN_DAYS = 1  # days of past sustained windows needed before `sustained` trusts their quantile (every time of day seen once); fewer -> that path does not hold
CATCH_UP_MAX_SECONDS = 300.0  # after a start, alert evaluation waits at most this long for every source's first poll round

# --- mention keywords and crisis terms (added for issue 4: crisis keywords and top terms) ---
MENTION_KEYWORDS = 5  # content terms kept per mention at ingest (top TF-IDF over jieba's IDF table)
ALERT_TOP_TERMS = 8  # most frequent keywords of the window's negative mentions shown in an alert's evidence

# --- access control and the web pages (added for issues 5 and 7: roles, sessions, throttling) ---
SESSION_LIFETIME_SECONDS = 12 * 3600.0  # a browser login lasts this long, seconds (one working day)
AUTH_FAILURE_BURST = 10  # failed logins / wrong tokens one client address may make before it is throttled
AUTH_FAILURE_REFILL_SECONDS = 30.0  # a throttled address regains one attempt this often, seconds
AUTH_TRACKED_CLIENTS = 10_000  # client addresses the failure throttle remembers at most (oldest forgotten first)
AUTH_MIN_TOKEN_CHARS = 16  # tokens shorter than this are accepted but logged as weak at startup
WEB_TREND_DAYS = 7  # days of history the overview page charts per brand
WEB_TREND_BUCKET_SECONDS = 6 * 3600  # width of one bar in the overview chart, seconds (6 h: 28 bars a week)
WEB_PAGE_SIZE = 50  # mentions per page of the mention stream

# --- retention and operations (added for issue 6: prune, status) ---
RETENTION_PRUNE_INTERVAL_SECONDS = 3_600.0  # how often the daemon prunes mentions past storage.retention.raw_days, seconds
RETENTION_BATCH_ROWS = 1_000  # mentions aggregated and deleted per transaction, so a prune never holds a long lock
SOURCE_OVERDUE_FACTOR = 3.0  # `brandpulse status` flags a source whose last success is older than this many intervals

# --- reports (added for issue 5: weekly and monthly reports, monitor/reports/) ---
REPORT_TIMEZONE = "Asia/Shanghai"  # time zone whose days, weeks (Mon-Sun) and months reports count in (the plans' teams work in China time)
REPORT_SEND_AT = "09:00"  # local time of day a scheduled report goes out when its schedule does not say
REPORT_CHECK_INTERVAL_SECONDS = 60.0  # how often the daemon checks whether a scheduled report is due, seconds
REPORT_CATCH_UP_SECONDS = 2 * 86_400.0  # a scheduled report missed while the daemon was down is still sent up to this long after its time, seconds
REPORT_TOP_N = 10  # rows in each top list of a report (platforms, sources, authors, keywords)
REPORT_SAMPLE_MENTIONS = 5  # most-engaged negative mentions quoted in a report
REPORT_KOL_FOLLOWERS = 100_000  # authors with at least this many followers are KOLs in a report; engaged smaller accounts are KOCs
REPORT_SEND_CLAIM_SECONDS = 600.0  # a report delivery being built and sent stays claimed this long (a sender killed mid-send delays it this long), seconds
REPORT_PDF_TIMEOUT_SECONDS = 120.0  # the longest headless Chromium may take to print a report to PDF, seconds

# --- replicas and leases (added for issue 6: scale-out on PostgreSQL) ---
CLUSTER_LEASE_SECONDS = 30.0  # how long a lease lasts without a heartbeat: a dead replica's sources and brands are taken over after at most this long, seconds
CLUSTER_HEARTBEAT_FRACTION = 1 / 3  # a replica renews its leases every this fraction of the lease (10 s of 30 s) unless cluster.heartbeat says otherwise
LEASE_SAFETY_SECONDS = 1.0  # a replica stops acting on a lease this long before it could expire in the database (at most 10% of the lease), seconds
LEASE_PRUNE_INTERVAL_SECONDS = 600.0  # how often a replica deletes membership rows of replicas long gone, seconds
LEASE_FORGET_SECONDS = 86_400.0  # a dead replica's membership row is deleted this long after it expired, seconds (1 day)

# --- mention history: search, export, series (added for issue 5: history and API) ---
HISTORY_PAGE_SIZE = 50  # mentions per page of `brandpulse mentions` and GET /api/v1/mentions when no limit is given
HISTORY_MAX_PAGE = 1_000  # most mentions one page may ask for (CLI --limit, API limit)
EXPORT_BATCH = 1_000  # mentions an export reads per query (memory stays constant whatever the selection's size)
SERIES_DEFAULT_SINCE_SECONDS = 7 * 86_400  # how far back GET /api/v1/brands/{brand}/series reaches without since=, seconds (7 days)
SERIES_DEFAULT_BUCKET_SECONDS = 900  # bucket width of that series without bucket=, seconds (15 min)
SERIES_MAX_POINTS = 20_000  # most buckets one series may have (30 days of 15 minutes is 2,880)
