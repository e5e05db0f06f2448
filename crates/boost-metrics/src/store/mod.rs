//! [`Store`]: the `metrics::Recorder` that keeps every series as atomics and
//! writes the scrape straight from them.
//!
//! Registration (a macro call, or getting a handle) looks the [`Key`] up in
//! one of 16 read-locked shards by the hash the key already carries; a new
//! series is also filed under its family, with its label text (`a="x",b="y"`)
//! escaped once, so the scrape only copies bytes and formats numbers.

mod cells;
mod direct;
pub(crate) mod exemplar;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use crate::MetricKind;
use crate::guard::PreHashed;
use cells::{Bounds, CounterCell, GaugeCell, HistogramCell};
pub(crate) use direct::stamp;
pub use direct::{CounterHandle, GaugeHandle, HistogramHandle};
pub use text::ScrapeFormat;
pub(crate) use text::push_f64;

const SHARDS: usize = 16;

type Shard<T> = RwLock<HashMap<Key, Arc<T>, BuildHasherDefault<PreHashed>>>;

/// Series of one kind, by key.
struct Shards<T>([Shard<T>; SHARDS]);

impl<T> Default for Shards<T> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| RwLock::default()))
    }
}

impl<T> Shards<T> {
    /// The cell of `key`, and whether it was made by this call.
    fn get_or_make(&self, key: &Key, make: impl FnOnce() -> T) -> (Arc<T>, bool) {
        let shard = &self.0[(key.get_hash() >> 32) as usize % SHARDS];
        if let Some(cell) = shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return (Arc::clone(cell), false);
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(cell) = map.get(key) {
            return (Arc::clone(cell), false);
        }
        let cell = Arc::new(make());
        map.insert(key.clone(), Arc::clone(&cell));
        (cell, true)
    }
}

/// One series' value, as the scrape reads it.
#[derive(Debug)]
enum Cell {
    Counter(Arc<CounterCell>),
    Gauge(Arc<GaugeCell>),
    Histogram(Arc<HistogramCell>),
}

/// One label set of a family: its label text, escaped once, and its value.
#[derive(Debug)]
struct Series {
    labels: String,
    cell: Cell,
}

/// A family's place in the scrape: by name, then kind.
type FamilyKey = (String, u8);

/// HELP text and unit given with `describe_*`.
#[derive(Debug, Clone)]
struct Description {
    unit: Option<Unit>,
    help: SharedString,
}

/// The storage and encoder behind the cardinality guard.
pub(crate) struct Store {
    default_bounds: Arc<Bounds>,
    bounds_by_name: HashMap<String, Arc<Bounds>>,
    counters: Shards<CounterCell>,
    gauges: Shards<GaugeCell>,
    histograms: Shards<HistogramCell>,
    families: RwLock<BTreeMap<FamilyKey, Vec<Series>>>,
    descriptions: RwLock<HashMap<String, Description>>,
    /// The length of the last scrape, to size the next one's buffer.
    last_len: AtomicUsize,
    /// Advanced by each scrape: a bucket takes one new exemplar per epoch.
    epoch: Arc<exemplar::Epoch>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let families = self
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Store")
            .field("families", &families)
            .finish_non_exhaustive()
    }
}

fn kind_order(kind: MetricKind) -> u8 {
    match kind {
        MetricKind::Counter => 0,
        MetricKind::Gauge => 1,
        _ => 2,
    }
}

impl Store {
    /// A store whose histograms use `default_bounds` unless `by_name` lists
    /// their name. Bounds must be finite and strictly increasing (the
    /// settings' rules check that first).
    pub(crate) fn new(default_bounds: &[f64], by_name: &BTreeMap<String, Vec<f64>>) -> Self {
        Self {
            default_bounds: Bounds::new(default_bounds),
            bounds_by_name: by_name
                .iter()
                .map(|(name, bounds)| (name.clone(), Bounds::new(bounds)))
                .collect(),
            counters: Shards::default(),
            gauges: Shards::default(),
            histograms: Shards::default(),
            families: RwLock::default(),
            descriptions: RwLock::default(),
            last_len: AtomicUsize::new(0),
            epoch: Arc::default(),
        }
    }

    #[cold]
    fn file(&self, key: &Key, kind: MetricKind, cell: Cell) {
        let labels = text::label_text(key);
        self.families
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((key.name().to_owned(), kind_order(kind)))
            .or_default()
            .push(Series { labels, cell });
    }

    fn describe(&self, name: KeyName, unit: Option<Unit>, help: SharedString) {
        self.descriptions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.as_str().to_owned(), Description { unit, help });
    }

    /// The whole scrape of this store in `format` (without `# EOF`).
    pub(crate) fn render_into(&self, out: &mut String, format: ScrapeFormat) {
        self.epoch.advance();
        out.reserve(self.last_len.load(Ordering::Relaxed) + 256);
        let start = out.len();
        let families = self.families.read().unwrap_or_else(PoisonError::into_inner);
        let descriptions = self
            .descriptions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut encoder = text::Encoder::new(out, format);
        for ((name, _), series) in families.iter() {
            let description = descriptions.get(name.as_str());
            let first = match series.first() {
                Some(first) => first,
                None => continue,
            };
            let (kind, unit, help) = (
                match first.cell {
                    Cell::Counter(_) => MetricKind::Counter,
                    Cell::Gauge(_) => MetricKind::Gauge,
                    Cell::Histogram(_) => MetricKind::Histogram,
                },
                description.and_then(|d| d.unit),
                description.map(|d| &*d.help),
            );
            encoder.family(name, kind, unit, help);
            for one in series {
                match &one.cell {
                    Cell::Counter(c) => encoder.counter(&one.labels, c.get()),
                    Cell::Gauge(g) => encoder.gauge(&one.labels, g.get()),
                    Cell::Histogram(h) => encoder.histogram(&one.labels, h),
                }
            }
        }
        self.last_len.store(out.len() - start, Ordering::Relaxed);
    }
}

impl Recorder for Store {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let (cell, new) = self.counters.get_or_make(key, CounterCell::default);
        if new {
            self.file(key, MetricKind::Counter, Cell::Counter(Arc::clone(&cell)));
        }
        direct::offer(|| Cell::Counter(Arc::clone(&cell)));
        Counter::from_arc(cell)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let (cell, new) = self.gauges.get_or_make(key, GaugeCell::default);
        if new {
            self.file(key, MetricKind::Gauge, Cell::Gauge(Arc::clone(&cell)));
        }
        direct::offer(|| Cell::Gauge(Arc::clone(&cell)));
        Gauge::from_arc(cell)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let (cell, new) = self.histograms.get_or_make(key, || {
            let bounds = self
                .bounds_by_name
                .get(key.name())
                .unwrap_or(&self.default_bounds);
            HistogramCell::new(Arc::clone(bounds), Arc::clone(&self.epoch))
        });
        if new {
            self.file(
                key,
                MetricKind::Histogram,
                Cell::Histogram(Arc::clone(&cell)),
            );
        }
        direct::offer(|| Cell::Histogram(Arc::clone(&cell)));
        Histogram::from_arc(cell)
    }
}
