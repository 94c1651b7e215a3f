//! The live terminal view of `otelwright demo` (ratatui on crossterm): a header with the load's answers and the
//! received totals, RED per route, one trace waterfall across both services (Tab/←/→ cycles through a failing
//! one, the slowest, one across services and recent ones), the resource/pool/cache gauges, and the latest log
//! lines with their trace ids. `q`, Esc or Ctrl-C quits. Runs on a blocking thread and redraws four times a
//! second from the state the demo's refresh loop keeps ([`Collected`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use ratatui::{DefaultTerminal, Frame};

use super::Stop;
use super::collect::Collected;
use super::load::LoadStats;
use super::report;

/// What the view reads.
pub(crate) struct Shared {
    pub(crate) collected: Arc<Mutex<Collected>>,
    pub(crate) load: Arc<LoadStats>,
    pub(crate) title: String,
    pub(crate) started: Instant,
    pub(crate) duration: Option<Duration>,
    pub(crate) stop: Arc<Stop>,
}

/// Takes over the terminal until the demo stops or the user quits, then restores it.
pub(crate) fn run(shared: &Shared) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, shared);
    ratatui::restore();
    // The demo stops when the view does, whoever asked first.
    shared.stop.trigger();
    Ok(result?)
}

fn event_loop(terminal: &mut DefaultTerminal, shared: &Shared) -> std::io::Result<()> {
    let mut selected = 0_usize;
    while !shared.stop.is_set() {
        terminal.draw(|frame| draw(frame, shared, selected))?;
        if !event::poll(Duration::from_millis(250))? {
            continue;
        }
        let Event::Key(key) = event::read()? else { continue };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => shared.stop.trigger(),
            // Raw mode turns Ctrl-C into a key press instead of SIGINT.
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => shared.stop.trigger(),
            KeyCode::Tab | KeyCode::Right => selected = selected.wrapping_add(1),
            KeyCode::BackTab | KeyCode::Left => selected = selected.wrapping_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn block(title: &str) -> Block<'_> {
    Block::bordered().title(Span::styled(title, Style::new().add_modifier(Modifier::BOLD)))
}

fn draw(frame: &mut Frame<'_>, shared: &Shared, selected: usize) {
    let c = shared.collected.lock().unwrap_or_else(PoisonError::into_inner);
    let metrics = c.metrics();
    let red = report::red(&metrics);
    let [head, routes, middle, logs] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(red.len().max(1) as u16 + 3),
        Constraint::Fill(3),
        Constraint::Fill(2),
    ])
    .areas(frame.area());

    draw_header(frame, head, shared, &c);

    let rates = c.rates();
    let rows = red.iter().map(|(key, r)| {
        let style = if r.errors > 0 { Style::new().fg(Color::Yellow) } else { Style::new() };
        Row::new(vec![
            Cell::from(key.0.clone()),
            Cell::from(key.1.clone()),
            Cell::from(format!("{:.1}", rates.get(key).copied().unwrap_or(0.0))),
            Cell::from(r.count.to_string()),
            Cell::from(r.errors.to_string()),
            Cell::from(format!("{:.1} ms", r.p50_ms)),
            Cell::from(format!("{:.1} ms", r.p95_ms)),
            Cell::from(format!("{:.1} ms", r.p99_ms)),
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(13),
        Constraint::Min(24),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
    ];
    let header = Row::new(["service", "route", "rate/s", "count", "errors", "p50", "p95", "p99"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    frame.render_widget(
        Table::new(rows, widths).header(header).block(block(" RED per route (from the received histograms) ")),
        routes,
    );

    let [trace_area, gauge_area] =
        Layout::horizontal([Constraint::Percentage(64), Constraint::Percentage(36)]).areas(middle);
    let picks = c.highlights(8);
    let trace_text = match picks.get(selected % picks.len().max(1)) {
        Some((label, trace)) => {
            // A line is about 86 characters besides the bar (labels, duration, kind, service).
            let bar = (trace_area.width as usize).saturating_sub(88).clamp(6, 40);
            let mut lines = vec![Line::styled(
                format!("[{label}]  {} of {} (Tab/←/→)", selected % picks.len() + 1, picks.len()),
                Style::new().fg(Color::Cyan),
            )];
            lines.extend(report::waterfall(&trace.refs(), bar).lines().map(|l| {
                let style = if l.ends_with("ERROR") { Style::new().fg(Color::Red) } else { Style::new() };
                Line::styled(l.to_owned(), style)
            }));
            lines
        }
        None => vec![Line::from("waiting for the first traces...")],
    };
    frame.render_widget(Paragraph::new(trace_text).block(block(" Trace waterfall ")), trace_area);

    let mut gauges = report::gauges(&metrics);
    if let Some(i) = gauges.iter().position(|(label, _)| label == "websockets") {
        gauges.insert(i + 1, ("websocket messages".into(), format!("{:.1}/s", c.websocket_message_rate())));
    }
    let gauges: Vec<Line<'_>> = gauges
        .into_iter()
        .map(|(label, value)| {
            Line::from(vec![Span::styled(format!("{label}: "), Style::new().fg(Color::Cyan)), Span::raw(value)])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(gauges)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block(" Resources, pools, caches, websockets ")),
        gauge_area,
    );

    let shown = logs.height.saturating_sub(2) as usize;
    let lines: Vec<Line<'_>> = c
        .logs
        .iter()
        .skip(c.logs.len().saturating_sub(shown))
        .map(|l| {
            let color = match l.severity_number() {
                17.. => Color::Red,
                13..=16 => Color::Yellow,
                _ => Color::Reset,
            };
            Line::styled(report::log_line(l), Style::new().fg(color))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block(" Latest log records ")), logs);
}

fn draw_header(frame: &mut Frame<'_>, area: Rect, shared: &Shared, c: &Collected) {
    let elapsed = shared.started.elapsed().as_secs_f64();
    let until =
        shared.duration.map_or_else(|| "until q / Ctrl-C".to_owned(), |d| format!("of {:.0} s", d.as_secs_f64()));
    let t = &c.totals;
    let services: Vec<String> = t.spans_by_service.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let text = vec![
        Line::from(shared.title.clone()),
        Line::from(format!("{elapsed:.0} s {until}   load: {}", shared.load.counts())),
        Line::from(format!(
            "received: spans {} ({})  traces {} ({} across services)  log records {} ({} with trace id)  metric exports {}",
            t.spans,
            services.join(", "),
            t.traces,
            t.cross_service_traces,
            t.logs,
            t.logs_with_trace_id,
            t.metric_exports
        )),
    ];
    frame.render_widget(
        Paragraph::new(text).block(
            Block::new().title(Span::styled(
                " otelwright demo ",
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            )),
        ),
        area,
    );
}
