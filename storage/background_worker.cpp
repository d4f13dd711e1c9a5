#include "storage/background_worker.hpp"

namespace lg::storage {

background_worker::background_worker() : thread_([this] { loop(); }) {
}

background_worker::~background_worker() {
  stop();
}

void background_worker::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_one();
  idle_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
}

void background_worker::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_)
      return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void background_worker::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> guard{mtx_};
      wake_.wait(guard, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_)
        return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
    }
    job();
    job = nullptr; // whatever it held goes before it counts as done
    {
      std::lock_guard<std::mutex> guard{mtx_};
      busy_ = false;
    }
    idle_.notify_all();
  }
}

void background_worker::drain() {
  std::unique_lock<std::mutex> guard{mtx_};
  idle_.wait(guard, [this] { return stopping_ || (!busy_ && jobs_.empty()); });
}

} // namespace lg::storage
