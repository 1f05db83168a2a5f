//! A run's live event stream (Server-Sent Events): every event carries its number as its `id`,
//! so a client that reconnects with `Last-Event-ID` misses none; a comment line every 15 s keeps
//! idle connections open; the stream ends after the run's `end` event.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::stream::{self, StreamExt as _};

use super::service::Service;

/// How often the database is read when no event of this process woke the stream (events a
/// worker of another replica writes).
const POLL: Duration = Duration::from_secs(1);

/// The stream of run `id`'s events after number `after`.
pub fn stream(
    service: Arc<Service>,
    id: String,
    after: i64,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let woken = service.follow(&id);
    let batches = stream::unfold(
        (service, id, after, woken, false),
        |(service, id, mut after, mut woken, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let events = match service.state.events(&id, after).await {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::error!(run = %id, "cannot read events: {e}");
                        return None;
                    }
                };
                if let Some(last) = events.last() {
                    after = last.seq;
                    let ended = events.iter().any(|e| e.kind == "end");
                    let batch: Vec<Result<Event, Infallible>> = events
                        .iter()
                        .map(|e| {
                            Ok(Event::default()
                                .id(e.seq.to_string())
                                .event(e.kind.clone())
                                .data(e.data.to_string()))
                        })
                        .collect();
                    return Some((batch, (service, id, after, woken, ended)));
                }
                // A run ends with its `end` event in the same transaction: one that is final
                // with no event left to give has given its end already.
                if let Ok(Some(run)) = service.state.get(&id).await
                    && run.state.is_final()
                    && service
                        .state
                        .events(&id, after)
                        .await
                        .is_ok_and(|e| e.is_empty())
                {
                    return None;
                }
                let _ = tokio::time::timeout(POLL, woken.changed()).await;
            }
        },
    );
    Sse::new(batches.flat_map(stream::iter))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
