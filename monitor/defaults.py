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
