//! The HTML of bodies stored before Broadsheet kept it beside their Markdown.
//!
//! Writes render their Markdown once and store both; a database from before
//! that has rows without HTML. `db::migrate` fills them in here, in batches,
//! before the migration that makes the column required, so that no read ever
//! renders. It knows only the two tables that hold Markdown, by name.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use crate::markdown;

/// The migration that requires every row's HTML; rows are rendered before it.
pub const REQUIRED_FROM: &str = "20261128000005";

/// Rows rendered per round trip: a few megabytes of HTML at most.
const BATCH: i64 = 200;

/// The tables whose `body` is Markdown rendered into `body_html`.
const TABLES: [&str; 2] = ["articles", "excerpts"];

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    body: String,
}

/// Renders and stores the HTML of every row that has none; how many rows.
/// Runs on a blocking thread, as migrations do.
pub fn fill<C>(conn: &mut C) -> QueryResult<usize>
where
    C: Connection<Backend = diesel::pg::Pg> + diesel::connection::LoadConnection,
{
    let mut filled = 0;
    for table in TABLES {
        let mut after = 0;
        loop {
            // The table names are the constants above, never input.
            let rows: Vec<Pending> = diesel::sql_query(format!(
                "SELECT id, body FROM {table} \
                 WHERE body_html IS NULL AND id > $1 ORDER BY id LIMIT $2"
            ))
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(BATCH)
            .load(conn)?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let html: Vec<String> = rows
                .iter()
                .map(|row| markdown::to_html(&row.body))
                .collect();
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            diesel::sql_query(format!(
                "UPDATE {table} SET body_html = given.html \
                 FROM unnest($1::bigint[], $2::text[]) AS given (id, html) \
                 WHERE {table}.id = given.id AND {table}.body_html IS NULL"
            ))
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(html)
            .execute(conn)?;
            filled += rows.len();
        }
    }
    if filled > 0 {
        log::info!("rendered the stored HTML of {filled} bodies written before it was kept");
    }
    Ok(filled)
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use crate::fuzzing::{config, describe, markdown, unsafe_markup, Slowest};
    use crate::markdown;

    static RENDERS: Slowest = Slowest::new("stored_html: to_html of unchecked Markdown");

    proptest! {
        #![proptest_config(config(24))]

        /// A body stored before the HTML was kept may predate the checks on
        /// Markdown, so `fill` renders it unchecked: whatever it holds, no
        /// panic and nothing in the HTML a browser would run. Bodies are
        /// taken up to 4 KiB here; how rendering time grows with nesting
        /// is measured in `markdown`'s target on what may be written.
        #[test]
        fn fuzz_any_stored_body_renders_safe_html(text in markdown()) {
            let mut text = text;
            if text.len() > 4 * 1024 {
                let mut end = 4 * 1024;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            let (html, _) = RENDERS.time(&text, || markdown::to_html(&text));
            prop_assert_eq!(unsafe_markup(&html), None, "{}", describe(&text));
        }
    }
}
