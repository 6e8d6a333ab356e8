//! `/live`: the service-level wallboard for managers. Today's "X % answered within Y" for
//! everyone, each team, each channel and each contract, coloured by band with its action,
//! per interval (`?interval=15|30|60`), with what waits now. `?wall=1` shows it in large
//! type for a wall screen (and full screen when the browser allows). Hydrated, it reloads
//! its data whenever a conversation changes on the live stream and every few seconds (a
//! contact waiting past Y lowers the level without any event); without JavaScript it
//! refreshes itself every 30 seconds.

use crate::api::get_live;
use crate::components::live::LiveFeed;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use promptly::compliance::{Band, Board, BoardRow, IntervalLevel};
use promptly::SlaDuration;

/// How often the hydrated page reloads without a change on the stream.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const RELOAD_EVERY_S: u64 = 5;

fn level_text(l: &IntervalLevel) -> String {
    l.service_level
        .map(|p| format!("{p:.0} %"))
        .unwrap_or_else(|| "—".into())
}

fn wait_text(s: Option<i64>) -> String {
    s.and_then(SlaDuration::from_secs)
        .map(|d| d.to_string())
        .unwrap_or_else(|| "—".into())
}

fn band_chip(band: Band) -> impl IntoView {
    view! {
        <span class=format!("band band-{}", band.as_str()) data-band=band.as_str() title=band.action()>{band.label()}</span>
    }
}

#[component]
pub fn LivePage() -> impl IntoView {
    let q = use_query_map();
    let interval =
        Memo::new(move |_| q.with(|q| q.get("interval").and_then(|v| v.parse::<i64>().ok())));
    let wall = Memo::new(move |_| q.with(|q| q.get("wall").is_some()));
    let reload = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    {
        if let Some(feed) = use_context::<LiveFeed>() {
            Effect::new(move |_| {
                if feed.last.get().is_some() || feed.resync.get() > 0 {
                    reload.update(|n| *n += 1);
                }
            });
        }
        Effect::new(move |_| {
            if let Ok(handle) = set_interval_with_handle(
                move || reload.update(|n| *n += 1),
                std::time::Duration::from_secs(RELOAD_EVERY_S),
            ) {
                on_cleanup(move || handle.clear());
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = use_context::<LiveFeed>();
    let data = Resource::new(move || (interval.get(), reload.get()), |(i, _)| get_live(i));
    view! {
        <section class="live admin-page" class:wall=move || wall.get() data-testid="live-board">
            <h1>"Live service level"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(board) => view! { <BoardView board wall=wall.get_untracked()/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BoardView(board: Board, wall: bool) -> impl IntoView {
    let minutes = board.interval.minutes();
    let link = |m: u32| {
        let current = m == minutes;
        let href = if wall {
            format!("/live?interval={m}&wall=1")
        } else {
            format!("/live?interval={m}")
        };
        view! { <a href=href class:current=current aria-current=current.then_some("page")>{format!("{m} min")}</a> }
    };
    let wall_link = if wall {
        view! { <a href=format!("/live?interval={minutes}")>"Leave the wall screen"</a> }.into_any()
    } else {
        view! { <a href=format!("/live?interval={minutes}&wall=1") data-testid="wall-link">"Wall screen"</a> }.into_any()
    };
    let spec = match &board.spec_from {
        Some(name) => format!("Teams and channels as in contract {name}"),
        None => {
            "Teams and channels: 80 % within 5 minutes (no contract sets a service level)".into()
        }
    };
    let everyone = board.rows.iter().find(|r| r.kind == "all").cloned();
    let strip = everyone.map(|r| view! { <IntervalStrip row=r/> });
    let groups = [
        ("all", "Everyone"),
        ("team", "Teams"),
        ("channel", "Channels"),
        ("contract", "Contracts"),
    ]
    .into_iter()
    .filter_map(|(kind, title)| {
        let rows: Vec<BoardRow> = board
            .rows
            .iter()
            .filter(|r| r.kind == kind)
            .cloned()
            .collect();
        (!rows.is_empty()).then(|| view! { <RowsTable title rows/> })
    })
    .collect_view();
    view! {
        <p class="muted">{format!("Today in {} · {spec} · a contact waiting past Y counts as missed", board.zone)}</p>
        <nav class="live-controls" aria-label="Interval">
            {link(15)}" "{link(30)}" "{link(60)}" · "{wall_link}" · "
            <a href=if wall { format!("/live?interval={minutes}&wall=1") } else { format!("/live?interval={minutes}") }>"Reload"</a>
        </nav>
        {strip}
        {groups}
    }
}

#[component]
fn IntervalStrip(row: BoardRow) -> impl IntoView {
    let cells = row
        .live
        .intervals
        .iter()
        .filter(|l| l.offered > 0 || l.service_level.is_some())
        .map(|l| {
            view! {
                <li class=format!("band-{}", l.band.as_str()) data-band=l.band.as_str()>
                    <span class="at">{l.label.clone()}</span>
                    <strong>{level_text(l)}</strong>
                    <span class="small">{format!("{} in", l.offered)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <h2>"Everyone, per interval"</h2>
        <ol class="interval-strip" data-testid="interval-strip">{cells}</ol>
    }
}

#[component]
fn RowsTable(title: &'static str, rows: Vec<BoardRow>) -> impl IntoView {
    let body = rows
        .into_iter()
        .map(|r| {
            let total = &r.live.total;
            let within = SlaDuration::from_secs(r.within_s)
                .map(|d| d.to_string())
                .unwrap_or_default();
            let band = total.band;
            view! {
                <tr data-kind=r.kind.clone() data-key=r.key.clone().unwrap_or_default() data-band=band.as_str()>
                    <th scope="row">{r.label.clone()}</th>
                    <td class="level"><strong>{level_text(total)}</strong>
                        <span class="small">{format!(" answered within {within} (target {:.0} %)", r.target)}</span></td>
                    <td>{band_chip(band)}<div class="small">{band.action()}</div></td>
                    <td>{total.offered}</td>
                    <td>{r.waiting_now}</td>
                    <td>{wait_text(r.longest_wait_s)}</td>
                    <td>{r.breaches}</td>
                    <td>{r.agents.map(|a| a.to_string()).unwrap_or_else(|| "—".into())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid live-table">
            <caption>{title}</caption>
            <thead><tr>
                <th scope="col">"Who"</th><th scope="col">"Service level today"</th><th scope="col">"Band"</th>
                <th scope="col">"Contacts"</th><th scope="col">"Waiting now"</th><th scope="col">"Longest wait"</th>
                <th scope="col">"Breaches"</th><th scope="col">"Agents"</th>
            </tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
}
