/**
 * A small vocabulary for generated conversations. A seeded word bank instead of faker per turn keeps a
 * 500-turn transcript at a few milliseconds.
 */

export const OPENERS = [
    'So',
    'Yeah',
    'Right',
    'Okay',
    'Honestly',
    'I think',
    'From our side',
    'To be fair',
    'Sure',
    'Got it',
    'Makes sense',
    'Well',
    'Actually',
    'Good question',
    'Yes'
] as const;

/** `{c}` = a competitor, `{n}` = a number, `{a}` = the account's short name. */
export const CLAUSES = [
    "we're currently tracking all of this in a spreadsheet",
    'the main concern is how long onboarding takes',
    'our reps spend about {n} hours a week on manual notes',
    'we looked at {c} last year but the pricing did not work for us',
    'the integration with Salesforce is a must-have',
    'I need to loop in our security team before we sign anything',
    'can you walk me through how the forecasting piece works',
    'we have roughly {n} people on the sales team today',
    'budget gets approved at the start of next quarter',
    'the dashboard looks a lot cleaner than what we have now',
    "let's schedule a follow-up with the VP of Sales",
    'we would want to start with a pilot for one team',
    'how does the pricing scale if we add more seats',
    'the renewal with {c} is coming up in {n} months',
    'I can send over the security questionnaire after this call',
    'that is exactly the problem we keep running into',
    'our managers want better visibility into deal risk',
    'we tried building something in-house but it never stuck',
    'could you share the case study you mentioned',
    'the legal review usually takes about {n} weeks',
    'what does implementation look like on your end',
    'we need single sign-on and role based access',
    'the coaching features are interesting for new hires',
    'I will check with procurement on the timeline',
    'the call recordings need to stay in the EU region',
    'we are consolidating tools this year so fewer vendors is better',
    'the last quarter was tough and the pipeline is thin',
    'I like that it picks up the action items automatically',
    'at {a} we run about {n} customer calls a week',
    'can we get a trial environment for the team',
    'our CRO is asking for a business case by Friday',
    'the mobile app matters for the field team',
    'we had issues with data quality in {c}',
    'let me share my screen and show you the workflow',
    'the API access would let us sync this into our warehouse',
    'that would save the team a lot of time',
    'I am not sure the team will adopt another tool',
    'we can probably do a three year agreement if the price is right',
    'send me the proposal and I will review it with finance',
    'the transcription accuracy was the biggest gap last time'
] as const;

export const CONNECTORS = ['and', 'but', 'so', 'because', 'although', 'and honestly'] as const;

export const COMPETITORS = [
    'Gong',
    'Chorus',
    'Avoma',
    'Fireflies',
    'Outreach Kaia',
    'Salesloft Conversations',
    'Jiminny',
    'Otter'
] as const;

export const TOPICS = [
    ['Introductions', 'Both sides introduced their teams and goals for the call.'],
    ['Current process', 'The prospect described how the team handles call notes and follow-ups today.'],
    ['Pain points', 'The prospect shared the main problems with their current tooling.'],
    ['Product demo', 'The rep demoed the main workflows and answered questions along the way.'],
    ['Pricing', 'Pricing tiers, seat counts and discounts for a multi-year agreement were discussed.'],
    ['Integrations', 'The group went over CRM, calendar and single sign-on integrations.'],
    ['Security review', 'Security and compliance requirements were reviewed, including data residency.'],
    ['Implementation', 'The rollout plan, timeline and onboarding support were discussed.'],
    ['Competition', 'The prospect compared the offering with the tools they evaluated before.'],
    ['Next steps', 'Both sides agreed on follow-up actions and the next meeting.'],
    ['Budget and timeline', 'Budget approval and the expected decision date were discussed.'],
    ['Forecasting', 'The team discussed how deal forecasting and pipeline reviews would work.']
] as const;

export const ACTION_ITEMS = [
    'Send the proposal with updated pricing',
    'Share the security questionnaire',
    'Schedule a follow-up demo with the VP of Sales',
    'Set up a trial environment for the team',
    'Send the case study discussed on the call',
    'Loop in procurement about the contract timeline',
    'Confirm the Salesforce integration requirements',
    'Prepare a business case for the CRO',
    'Book a technical deep dive with IT',
    'Follow up on the pilot scope'
] as const;

export const CATEGORIES = [
    ['Pricing', ['price', 'discount', 'per seat', 'budget']],
    ['Competitors', ['Gong', 'Chorus', 'other vendor', 'last year']],
    ['Next Steps', ['follow-up', 'next week', 'send over', 'schedule']],
    ['Objections', ['not sure', 'concern', 'too expensive', 'adoption']],
    ['Security', ['SSO', 'SOC 2', 'data residency', 'questionnaire']],
    ['Timeline', ['next quarter', 'by Friday', 'timeline', 'weeks']]
] as const;

export const SENTIMENTS = ['Positive', 'Negative', 'Neutral', 'Mixed'] as const;

export const AI_LABELS = ['Pain point', 'Objection', 'Next step', 'Question', 'Budget'] as const;
