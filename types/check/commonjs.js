// @ts-check
// The CommonJS handler shapes (api/main.js without `export`). Only type-checked, never run.
const dayjs = require('dayjs');

// Use @satisfies (not @type) on async functions: @type would demand a declared Promise return type.
/** @satisfies {FaztFetchHandler} */
const fetch = async (request) => ({ now: dayjs().format(), method: request.method, docs: await fazt.kv.get('x') });

/** @satisfies {FaztScheduledHandler} */
const scheduled = async (job) => {
  await fazt.kv.set(`ran:${job.id}`, job.attempt);
};

/** @satisfies {FaztEventHandler} */
const on = (event) => console.info(event.type, event.payload);

module.exports = /** @satisfies {FaztHandlers} */ ({ fetch, scheduled, on });
