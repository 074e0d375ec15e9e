#include "cli/detached_run.h"

#include <chrono>
#include <ostream>

#include <nlohmann/json.hpp>

#include "cli/table_format.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/core/plan_model.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using azureml::FollowedEnd;
using azureml::FollowedJob;
using nlohmann::json;

namespace {

std::string dumped(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// Every rank of the job's attempt ended with the job: those the dead amlflow recorded get
// their end, and those it never saw start (it died before the job ran) are recorded with the
// log the service's copy filled.
void finish_ranks(RunStore& store, const RemoteJob& record, const FollowedJob& job, const FollowedEnd& end,
                  const RunRecord& run, const StepPlan& step) {
    int code = end.status == "Completed" ? 0 : 1;
    std::vector<bool> known(job.rank_logs.size(), false);
    if (auto ranks = store.ranks_of(run.id, record.step, record.attempt)) {
        for (const RankRecord& rank : *ranks) {
            if (rank.global_rank >= 0 && static_cast<size_t>(rank.global_rank) < known.size()) known[rank.global_rank] = true;
            if (rank.exit_code < 0 && rank.signal == 0) {
                store.finish_rank(run.id, record.step, record.attempt, rank.global_rank, code, 0, end.finished_ms);
            }
        }
    }
    if (!end.logs_read) return;
    int per_node = distribution_of(step.spec).launched_per_node();
    int64_t finished = end.finished_ms ? end.finished_ms
                                       : std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch()).count();
    for (size_t rank = 0; rank < known.size(); ++rank) {
        if (known[rank]) continue;
        int r = static_cast<int>(rank);
        RankRecord rank_record{run.id, record.step, record.attempt, r, r % per_node, r / per_node, 0, end.started_ms,
                               finished, code, 0, job.rank_logs[rank], ""};
        store.add_rank(rank_record);
    }
}

// The job's attempt and step, as the executor would have ended them.
void finish_step(RunStore& store, const RemoteJob& record, const FollowedEnd& end, const RunRecord& run) {
    bool completed = end.status == "Completed", canceled = end.status == "Canceled";
    std::string who = "job '" + record.job + "'";
    if (auto attempts = store.attempts_of(run.id, record.step)) {
        for (const AttemptRecord& attempt : *attempts) {
            if (attempt.number != record.attempt || attempt.state != AttemptState::Running) continue;
            json failure = {{"reason", canceled ? "canceled" : "exit"}, {"rank", -1},
                            {"message", who + " ended " + end.status + " on Azure ML" + (end.error.empty() ? "" : ": " + end.error)}};
            if (!canceled) failure["exit_code"] = 1;
            store.finish_attempt(run.id, record.step, attempt.number,
                                 completed ? AttemptState::Succeeded : canceled ? AttemptState::Canceled : AttemptState::Failed,
                                 completed ? "" : dumped(failure), end.finished_ms);
        }
    }
    if (completed) {
        fs::path folder = store.run_folder(run.id) / record.step;
        json results = {{"outputs", store.step_outputs(run.id, record.step).string()},
                        {"logs", (folder / "logs").string()},
                        {"run", run.id},
                        {"step", record.step},
                        {"attempt", std::to_string(record.attempt)}};
        store.set_step_result(run.id, record.step, dumped(json({{"results", results}})));
    }
    store.set_step_state(run.id, record.step, completed ? StepState::Succeeded : canceled ? StepState::Canceled : StepState::Failed,
                         "", end.finished_ms);
}

// One job that ended: its record, and, unless a completed job's outputs are missing, its
// ranks, attempt and step.
void record_end(RunStore& store, const RunRecord& run, const RemoteJob& record, const FollowedJob& job,
                const FollowedEnd& end, const RunPlan& plan, std::ostream& out) {
    std::string error;
    RemoteJob ended{record.step, record.attempt, record.job, "", end.status, {}};  // the rest as recorded
    if (!record_remote_job(store.run_folder(run.id), ended, &error)) {
        out << "    warning: " << error << "\n";
    }
    const StepPlan* step = plan.find(record.step);
    auto steps = store.steps_of(run.id);
    if (!step || !steps) return;
    for (const StepRecord& now : *steps) {
        if (now.name == record.step && now.state != StepState::Running && now.state != StepState::Pending) return;
    }
    bool completed = end.status == "Completed";
    bool brought = end.artifacts_fetched && end.artifacts.error.empty();
    if (completed && (step->kind == "sweep" || !brought)) {
        std::string what = step->kind == "sweep" ? "its best trial's outputs are not brought back here"
                                                 : "its outputs did not come back" +
                                                       (end.artifacts.error.empty() ? "" : " (" + end.artifacts.error + ")");
        out << "    " << what << ": amlflow run --resume " << run.id << " brings them and goes on\n";
        return;
    }
    if (completed) out << "    outputs: " << end.artifacts.outputs << " files brought back\n";
    finish_ranks(store, record, job, end, run, *step);
    finish_step(store, record, end, run);
}

// No job left on the service: the run ends as its steps say, or waits for --resume.
void settle_run(RunStore& store, const std::string& run, std::ostream& out) {
    auto steps = store.steps_of(run);
    if (!steps) return;
    bool failed = false, canceled = false, done = true;
    for (const StepRecord& step : *steps) {
        failed = failed || step.state == StepState::Failed;
        canceled = canceled || step.state == StepState::Canceled;
        done = done && (step.state == StepState::Succeeded || step.state == StepState::Cached ||
                        step.state == StepState::Skipped);
    }
    RunState state = failed ? RunState::Failed : canceled ? RunState::Canceled : done ? RunState::Succeeded : RunState::Interrupted;
    int code = failed ? 2 : canceled ? 130 : done ? 0 : -1;
    if (!store.set_run_state(run, state, code)) {
        out << "  warning: " << store.last_error() << "\n";
        return;
    }
    out << "  run " << run << ": " << to_string(state);
    if (state == RunState::Interrupted || state == RunState::Failed) {
        out << ": amlflow run --resume " << run << (failed ? " runs the failed steps again" : " runs the steps left");
    }
    out << "\n";
}

}  // namespace

azureml::RemoteJobRef remote_job_ref(const RunPlan& plan, const StepPlan& step, const RunRecord& run,
                                     const std::string& job) {
    return {plan.raw, plan.compute_of(step), step.compute, fs::path(run.file).parent_path().string(), job};
}

DetachedJobs detached_jobs(RunStore& store, const RunRecord& run) {
    DetachedJobs out;
    std::string error;
    json plan_json = json::parse(run.plan_json, nullptr, false);
    auto plan = plan_json.is_discarded() ? std::nullopt : load_plan(plan_json, &error);
    if (!plan) {
        out.error = "the plan recorded for run '" + run.id + "' cannot be read: " + error;
        return out;
    }
    out.plan = plan;
    fs::path folder = store.run_folder(run.id);
    for (const RemoteJob& record : read_remote_jobs(folder)) {
        const StepPlan* step = plan->find(record.step);
        if (record.state != "submitted" || !step) continue;
        FollowedJob job;
        static_cast<azureml::RemoteJobRef&>(job) = remote_job_ref(*plan, *step, run, record.job);
        if (step->kind != "sweep") {  // a sweep job's trials are jobs of their own
            Distribution shape = distribution_of(step->spec);
            int ranks = shape.launched();
            for (int rank = 0; rank < ranks; ++rank) {
                job.rank_logs.push_back(store.rank_log(run.id, record.step, record.attempt, rank).string());
            }
            job.artifacts.outputs = store.step_outputs(run.id, record.step);
            job.artifacts.logs = folder / record.step / "logs";
        }
        out.records.push_back(record);
        out.jobs.push_back(std::move(job));
    }
    return out;
}

int record_detached(RunStore& store, const RunRecord& run, const DetachedJobs& jobs,
                    const azureml::FollowOutcome& outcome, std::ostream& out) {
    auto now = store.find_run(run.id);
    bool recording = now && now->state == RunState::Detached;  // not if a --resume took it meanwhile
    const std::optional<RunPlan>& plan = jobs.plan;
    int code = 0;
    bool live = false;
    for (size_t i = 0; i < jobs.records.size() && i < outcome.jobs.size(); ++i) {
        const RemoteJob& record = jobs.records[i];
        const FollowedEnd& end = outcome.jobs[i];
        std::string who = "job '" + record.job + "' (step '" + record.step + "', attempt " +
                          std::to_string(shown_attempt(record.attempt)) + ")";
        if (!end.asked || !end.ended) {
            live = true;
            if (!end.asked) code = 2;
            out << "  " << who << ": "
                << (end.asked ? azureml::our_state(end.status) + " on Azure ML (" + end.status + ")"
                              : "cannot ask Azure ML: " + end.error)
                << "\n";
            continue;
        }
        if (end.status != "Completed") code = 2;
        out << "  " << who << " ended " << end.status << " on Azure ML"
            << (end.finished_ms ? " at " + clock_time(end.finished_ms) : "") << (end.error.empty() ? "" : ": " + end.error)
            << "\n";
        if (recording && plan) record_end(store, run, record, jobs.jobs[i], end, *plan, out);
    }
    if (recording && !live) settle_run(store, run.id, out);
    return code;
}

void catch_up_detached(RunStore& store, const RunRecord& run, std::ostream& out) {
    std::string error;
    // The run's lock, for the whole catch-up: a `--resume` begun meanwhile is not written over.
    auto lock = RunLock::acquire(store.run_folder(run.id), &error);
    if (!lock) return;
    auto now = store.find_run(run.id);
    if (!now || now->state != RunState::Detached) return;
    DetachedJobs jobs = detached_jobs(store, *now);
    if (!jobs.error.empty()) {
        out << "cannot ask Azure ML about run " << run.id << ": " << jobs.error << "\n";
        return;
    }
    // None left to ask about (its amlflow died after the last job ended): the run is settled.
    if (!jobs.jobs.empty()) out << "run " << run.id << " is detached (the amlflow that ran it is gone); Azure ML says:\n";
    azureml::FollowOptions options;
    options.wait = false;
    azureml::FollowOutcome outcome = jobs.jobs.empty() ? azureml::FollowOutcome{} : azureml::follow_remote_jobs(jobs.jobs, options);
    record_detached(store, *now, jobs, outcome, out);
}

}  // namespace amlflow::cli
