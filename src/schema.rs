//! Diesel's view of the tables created in `migrations/`. Kept by hand in step
//! with the SQL; the migration test fails when the two disagree.

diesel::table! {
    outlets (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
        home_url -> Text,
        country_code -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    articles (id) {
        id -> Int8,
        slug -> Text,
        title -> Text,
        summary -> Nullable<Text>,
        body -> Text,
        status -> Text,
        published_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tags (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
    }
}

diesel::table! {
    article_tags (article_id, tag_id) {
        article_id -> Int8,
        tag_id -> Int8,
    }
}

diesel::table! {
    excerpts (id) {
        id -> Int8,
        article_id -> Int8,
        position -> Int4,
        headline -> Text,
        bylines -> Array<Text>,
        outlet_id -> Int8,
        source_published_on -> Nullable<Date>,
        source_url -> Text,
        call_to_action -> Nullable<Text>,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    roundups (id) {
        id -> Int8,
        article_id -> Int8,
        position -> Int4,
        title -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    roundup_links (id) {
        id -> Int8,
        roundup_id -> Int8,
        position -> Int4,
        headline -> Text,
        outlet_id -> Int8,
        url -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    view_counts (article_id, granularity, bucket_start) {
        article_id -> Int8,
        granularity -> Text,
        bucket_start -> Timestamptz,
        views -> Int8,
    }
}

diesel::joinable!(article_tags -> articles (article_id));
diesel::joinable!(article_tags -> tags (tag_id));
diesel::joinable!(excerpts -> articles (article_id));
diesel::joinable!(excerpts -> outlets (outlet_id));
diesel::joinable!(roundups -> articles (article_id));
diesel::joinable!(roundup_links -> roundups (roundup_id));
diesel::joinable!(roundup_links -> outlets (outlet_id));
diesel::joinable!(view_counts -> articles (article_id));

diesel::allow_tables_to_appear_in_same_query!(
    outlets,
    articles,
    tags,
    article_tags,
    excerpts,
    roundups,
    roundup_links,
    view_counts,
);
