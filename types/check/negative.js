// @ts-check
// Misuses that the declarations must reject (each line carries @ts-expect-error). Only type-checked.

async function misuse() {
  // @ts-expect-error ttl is a number of milliseconds
  await fazt.kv.set('k', 1, { ttl: '1h' });
  // @ts-expect-error unknown filter operator
  await fazt.docs.collection('c').find({ where: { n: { $gtt: 1 } } });
  // @ts-expect-error sort direction is 1 or -1
  await fazt.docs.collection('c').find({ sort: { n: 'desc' } });
  // @ts-expect-error $inc takes numbers
  await fazt.docs.collection('c').update('id', { $inc: { n: '1' } });
  // @ts-expect-error fazt.user may be null
  fazt.user.id;
  // @ts-expect-error role is owner | member
  if (fazt.user?.role === 'admin') return;
  // @ts-expect-error job kinds are after | at | cron
  /** @type {FaztJob} */ ({ id: '', kind: 'every', scheduledAt: 0, state: null, attempt: 1 });
  // @ts-expect-error blob bodies are bytes, strings, Blobs, Requests or Responses
  await fazt.blobs.put('k', { not: 'a body' });
  // @ts-expect-error fazt.env is read-only
  fazt.env.X = 'y';
  // @ts-expect-error events.emit needs a type
  await fazt.events.emit();
}

/** @type {FaztHandlers} */
// @ts-expect-error fetch is required in the handlers object
const noFetch = { on() {} };

export { misuse, noFetch };
